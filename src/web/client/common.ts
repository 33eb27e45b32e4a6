/** What the pages' scripts share: element look-up, the API's error messages, order tokens, copying. */

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
}

/** Shows `el` with `text` (textContent: never HTML), or hides it when text is undefined. */
export function say(el: HTMLElement, text?: string) {
  el.textContent = text ?? '';
  el.hidden = text === undefined;
}

/** The message of the API's JSON error (`{error:{code,message}}`), if it sent one. */
export async function apiMessage(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.json()) as { error?: { message?: unknown } };
    return typeof body.error?.message === 'string' ? body.error.message : undefined;
  } catch {
    return undefined;
  }
}

export const NETWORK_ERROR = 'We could not reach stickerflow. Check your connection and try again.';
export const SERVER_ERROR = 'Something went wrong on our side. Please try again in a moment.';

/** A random key: crypto.randomUUID exists only on secure origins, getRandomValues everywhere. */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Where the checkout keeps an order's access token, so the order page can open without its link. */
const tokenKey = (orderId: string) => `stickerflow:order:${orderId}`;

/**
 * Whether the token was kept. Storage can refuse (blocked by the browser or its settings, full,
 * some private modes): then this browser cannot reopen the order by itself, and the caller must
 * make sure the shopper keeps the private link.
 */
export function saveOrderToken(orderId: string, accessToken: string): boolean {
  try {
    localStorage.setItem(tokenKey(orderId), JSON.stringify({ accessToken }));
    return true;
  } catch {
    return false;
  }
}

export function readOrderToken(orderId: string): string | undefined {
  try {
    const saved = JSON.parse(localStorage.getItem(tokenKey(orderId)) ?? 'null') as { accessToken?: unknown } | null;
    return typeof saved?.accessToken === 'string' ? saved.accessToken : undefined;
  } catch {
    return undefined;
  }
}

/** Only http(s) URLs become links. */
export const isHttpUrl = (url: unknown): url is string => typeof url === 'string' && /^https?:\/\//i.test(url);

/** A Copy button for a read-only field; says what happened in the button itself. */
export function wireCopy(button: HTMLButtonElement, input: HTMLInputElement) {
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = 'Copied';
    } catch {
      input.select();
      button.textContent = 'Select and copy';
    }
    setTimeout(() => (button.textContent = 'Copy'), 2500);
  });
  input.addEventListener('focus', () => input.select());
}
