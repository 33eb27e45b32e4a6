/** The few parts of clipper-lib (CommonJS, ships no types) that the die-cut tracer uses. */
declare module 'clipper-lib' {
  export interface IntPoint {
    X: number;
    Y: number;
  }
  export type Path = IntPoint[];
  export class ClipperOffset {
    constructor(miterLimit?: number, arcTolerance?: number);
    AddPaths(paths: Path[], joinType: number, endType: number): void;
    Execute(solution: Path[], delta: number): void;
  }
  export const Clipper: {
    Area(path: Path): number;
    Orientation(path: Path): boolean;
    /** 0 outside, 1 inside, -1 on the boundary. */
    PointInPolygon(point: IntPoint, path: Path): number;
  };
  export const JoinType: { jtSquare: number; jtRound: number; jtMiter: number };
  export const EndType: { etClosedPolygon: number; etClosedLine: number; etOpenButt: number; etOpenSquare: number; etOpenRound: number };
  const clipper: { ClipperOffset: typeof ClipperOffset; Clipper: typeof Clipper; JoinType: typeof JoinType; EndType: typeof EndType };
  export default clipper;
}
