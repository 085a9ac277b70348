([label, x, y]) => {
  const el = document.querySelector(`[data-glmv-mark="${label}"]`);
  const top = document.elementFromPoint(x, y);
  const link = el && el.closest("a[href]");
  const target = link ? (link.getAttribute("target") || "").toLowerCase() : "";
  return {
    on_top: !!el && !!top && (el === top || el.contains(top)),
    new_tab: target !== "" && target !== "_self" && target !== "_parent" && target !== "_top",
  };
}
