([x, y, dx, dy, whole]) => {
  let el = whole ? null : document.elementFromPoint(x, y);
  while (el && el !== document.body && el !== document.documentElement) {
    const style = getComputedStyle(el);
    const canY = dy !== 0 && /(auto|scroll|overlay)/.test(style.overflowY) && el.scrollHeight > el.clientHeight;
    const canX = dx !== 0 && /(auto|scroll|overlay)/.test(style.overflowX) && el.scrollWidth > el.clientWidth;
    if (canY || canX) {
      el.scrollBy({left: dx, top: dy, behavior: "instant"});
      return el.tagName.toLowerCase();
    }
    el = el.parentElement;
  }
  window.scrollBy({left: dx, top: dy, behavior: "instant"});
  return "window";
}
