type Attributes = Record<string, string>;
type Child = Node | string | null | undefined;

/** Creates an element: `text` sets its text, `className` its class, every other key an attribute. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attributes | null,
  children?: Child[],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (attrs) {
    Object.keys(attrs).forEach((key) => {
      const value = attrs[key] as string;
      if (key === 'text') node.textContent = value;
      else if (key === 'className') node.className = value;
      else node.setAttribute(key, value);
    });
  }
  (children || []).forEach((child) => {
    if (child === null || child === undefined) return;
    node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  });
  return node;
}

/** Renders text with `code` spans and blank-line paragraphs, without interpreting any HTML. */
export function richText(text: string | undefined): HTMLDivElement {
  const wrap = el('div');
  String(text || '')
    .split(/\n\s*\n/)
    .forEach((para) => {
      const p = el('p');
      para.split('`').forEach((part, i) => {
        p.appendChild(i % 2 ? el('code', { text: part }) : document.createTextNode(part));
      });
      wrap.appendChild(p);
    });
  return wrap;
}
