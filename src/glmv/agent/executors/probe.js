([x, y]) => {
  const el = x === null ? document.activeElement : document.elementFromPoint(x, y);
  if (!el) return {password: false, submits: false, href: "", in_form: false, description: ""};
  const tag = el.tagName.toLowerCase();
  const type = (el.getAttribute("type") || "").toLowerCase();
  const link = el.closest("a[href]");
  const button = el.closest("button, input[type=submit], input[type=image]");
  const form = (button && (button.form || button.closest("form"))) || el.form || el.closest("form");
  const btype = button ? (button.getAttribute("type") || "").toLowerCase() : "";
  const submits = !!button && (btype === "submit" || btype === "image" || (btype === "" && !!form));
  const field = tag === "input" || tag === "textarea" || el.isContentEditable;
  return {
    password: tag === "input" && type === "password",
    submits, in_form: !!form && field, href: link ? link.href : "",
    description: `<${tag}> ${(el.innerText || el.getAttribute("aria-label") || "").trim().slice(0, 60)}`,
  };
}
