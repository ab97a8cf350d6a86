// Positions boxes and timeline bars from their data-left/top/width/height attributes (percent).
// The Content-Security-Policy forbids inline style attributes; styles set from a script are fine.
(function () {
  const SIDES = ["left", "top", "width", "height"];
  function place(root) {
    root.querySelectorAll("[data-place]").forEach((el) => {
      SIDES.forEach((side) => {
        if (el.dataset[side] !== undefined) el.style[side] = el.dataset[side] + "%";
      });
    });
  }
  document.addEventListener("DOMContentLoaded", () => place(document));
  // htmx fires htmx:load on each piece of content it swaps in, before the browser paints it.
  document.addEventListener("htmx:load", (event) => place(event.target.parentNode || event.target));
})();
