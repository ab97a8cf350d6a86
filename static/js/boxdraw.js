// Registration page: drag on the photo to draw a box; writes image-pixel coordinates into the
// hidden x1/y1/x2/y2 fields of the save form. Clicking a detected box is handled by htmx.
(function () {
  const frame = document.getElementById("photo-frame");
  if (!frame) return;
  const drawn = document.getElementById("drawn-box");
  const img = frame.querySelector("img");
  let start = null;

  function point(event) {
    const rect = img.getBoundingClientRect();
    return {
      x: Math.min(Math.max(event.clientX - rect.left, 0), rect.width),
      y: Math.min(Math.max(event.clientY - rect.top, 0), rect.height),
      rect,
    };
  }
  function show(a, b) {
    Object.assign(drawn.style, {
      left: Math.min(a.x, b.x) + "px", top: Math.min(a.y, b.y) + "px",
      width: Math.abs(b.x - a.x) + "px", height: Math.abs(b.y - a.y) + "px",
    });
    drawn.hidden = false;
  }
  function setField(name, value) {
    const input = document.querySelector('#save-form input[name="' + name + '"]');
    if (input) input.value = Math.round(value);
  }
  frame.addEventListener("mousedown", (event) => {
    if (event.target.closest(".det-box")) return;
    event.preventDefault();
    start = point(event);
  });
  window.addEventListener("mousemove", (event) => { if (start) show(start, point(event)); });
  window.addEventListener("mouseup", (event) => {
    if (!start) return;
    const end = point(event);
    const scale = Number(frame.dataset.width) / end.rect.width;
    if (Math.abs(end.x - start.x) > 5 && Math.abs(end.y - start.y) > 5) {
      setField("x1", Math.min(start.x, end.x) * scale); setField("y1", Math.min(start.y, end.y) * scale);
      setField("x2", Math.max(start.x, end.x) * scale); setField("y2", Math.max(start.y, end.y) * scale);
      const text = document.getElementById("box-text");
      if (text) text.textContent = "Box: drawn by hand";
      document.querySelectorAll(".det-box.chosen").forEach((el) => el.classList.remove("chosen"));
    }
    start = null;
  });
  // Highlight the detection whose form htmx just loaded.
  document.body.addEventListener("htmx:afterSwap", () => {
    const form = document.getElementById("save-form");
    document.querySelectorAll(".det-box").forEach((el) => el.classList.toggle("chosen", el.id === "det-" + form.dataset.chosen));
    drawn.hidden = true;
  });
})();
