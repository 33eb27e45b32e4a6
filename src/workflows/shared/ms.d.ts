/** `ms` ships its types but its package.json "exports" does not name them: the one call we make. */
declare module 'ms' {
  export default function ms(value: string): number;
}
