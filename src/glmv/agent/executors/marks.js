(() => {
  for (const old of document.querySelectorAll("[data-glmv-mark]")) old.removeAttribute("data-glmv-mark");
  const selector = [
    "a[href]", "button", "input:not([type=hidden])", "textarea", "select", "summary",
    "[role=button]", "[role=link]", "[role=checkbox]", "[role=radio]", "[role=tab]", "[role=menuitem]",
    "[role=option]", "[role=textbox]", "[role=combobox]", "[onclick]", "[contenteditable='']",
    "[contenteditable=true]", "[tabindex]:not([tabindex='-1'])",
  ].join(",");
  const width = window.innerWidth, height = window.innerHeight;
  const marks = [];
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2 || r.bottom <= 0 || r.right <= 0 || r.top >= height || r.left >= width) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none" || Number(style.opacity) === 0) continue;
    const x = Math.min(Math.max((Math.max(r.left, 0) + Math.min(r.right, width)) / 2, 0), width - 1);
    const y = Math.min(Math.max((Math.max(r.top, 0) + Math.min(r.bottom, height)) / 2, 0), height - 1);
    const top = document.elementFromPoint(x, y);
    if (top && top !== el && !el.contains(top) && !top.contains(el) && !(top.control === el)) continue;
    const tag = el.tagName.toLowerCase();
    const type = (el.getAttribute("type") || "").toLowerCase();
    const password = tag === "input" && type === "password";
    const labelled = el.labels && el.labels.length ? el.labels[0].innerText : "";
    let own;
    if (password) own = "";
    else if (tag === "input" && (type === "checkbox" || type === "radio")) own = labelled + (el.checked ? " (checked)" : "");
    else if (tag === "select") own = el.selectedIndex >= 0 ? el.options[el.selectedIndex].text : "";
    else if (tag === "input" || tag === "textarea") own = el.value;
    else own = el.innerText;
    const text = (own || el.getAttribute("aria-label") || el.getAttribute("placeholder") || labelled
      || el.getAttribute("title") || el.getAttribute("alt") || el.getAttribute("name") || "")
      .trim().replace(/\s+/g, " ").slice(0, 80);
    const form = el.form || el.closest("form");
    const submits = (tag === "button" && (type === "submit" || (type === "" && !!form)))
      || (tag === "input" && (type === "submit" || type === "image"));
    const label = marks.length;
    el.setAttribute("data-glmv-mark", String(label));
    marks.push({
      label, tag, text, type, password, submits, in_form: !!form,
      href: tag === "a" ? el.href : "",
      box: [Math.max(r.left, 0), Math.max(r.top, 0), Math.min(r.right, width), Math.min(r.bottom, height)],
    });
  }
  return {marks, title: document.title};
})()
