// Small DOM helpers: elements are built, never parsed from strings, so recorded text (titles,
// console lines, URLs) is always shown as text.

/** ``h("button", {class: "x", onclick}, "Label", child)`` */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "style") {
      // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
      element.style.cssText = String(value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Seconds as ``m:ss.s`` (or ``h:mm:ss``). */
export function clock(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const whole = Math.max(0, seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  if (hours) return `${hours}:${String(minutes).padStart(2, "0")}:${String(Math.floor(rest)).padStart(2, "0")}`;
  return `${minutes}:${rest.toFixed(1).padStart(4, "0")}`;
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A message in place of the page, for what went wrong. */
export function notice(kind, title, text, ...actions) {
  return h("section", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("h2", {}, title), h("p", {}, text), ...actions);
}
