// Registration page: pick the vehicle's box on the photo and put it, in image pixels, into the
// save form's hidden x1/y1/x2/y2 fields.
// - A click picks the smallest detected box under the pointer: a big, weak box around the car
//   (or the whole street) must not steal the click from the car inside it.
// - A drag draws a box of its own, wherever it starts (inside a detected box too).
// - "Use the whole image" picks the whole photo.
// The pick is shown: the chosen detection highlighted, or the drawn/whole box outlined.
(function () {
  const frame = document.getElementById("photo-frame");
  if (!frame) return;
  const img = frame.querySelector("img");
  const drawn = document.getElementById("drawn-box");
  const text = document.getElementById("box-text");
  const form = document.getElementById("save-form");
  const width = Number(frame.dataset.width);
  const height = Number(frame.dataset.height);
  const FIELDS = ["x1", "y1", "x2", "y2"];
  const DRAG_PX = 5; // less pointer movement than this is a click
  const boxOf = (el) => el.dataset.box.split(",").map(Number);
  const detections = Array.from(frame.querySelectorAll(".det-box"), (el) => ({ el, box: boxOf(el) }));
  let start = null;

  // The pointer in image pixels (clamped to the image), and on screen.
  function point(event) {
    const rect = img.getBoundingClientRect();
    const clamp = (v) => Math.min(Math.max(v, 0), 1);
    return {
      x: clamp((event.clientX - rect.left) / rect.width) * width,
      y: clamp((event.clientY - rect.top) / rect.height) * height,
      screenX: event.clientX, screenY: event.clientY,
    };
  }
  const span = (a, b) => [Math.min(a.x, b.x), Math.min(a.y, b.y), Math.max(a.x, b.x), Math.max(a.y, b.y)];
  const dragged = (a, b) => Math.abs(b.screenX - a.screenX) > DRAG_PX || Math.abs(b.screenY - a.screenY) > DRAG_PX;

  function smallestAt(p) {
    let best = null;
    detections.forEach((d) => {
      const [x1, y1, x2, y2] = d.box;
      const area = (x2 - x1) * (y2 - y1);
      if (p.x >= x1 && p.x <= x2 && p.y >= y1 && p.y <= y2 && (!best || area < best.area)) best = { d, area };
    });
    return best && best.d;
  }

  function outline(box) {
    const [x1, y1, x2, y2] = box;
    Object.assign(drawn.style, {
      left: (100 * x1 / width) + "%", top: (100 * y1 / height) + "%",
      width: (100 * (x2 - x1) / width) + "%", height: (100 * (y2 - y1) / height) + "%",
    });
    drawn.hidden = false;
  }

  // Show `box` as the pick: `detection` highlighted, or else the box outlined.
  function show(box, name, detection) {
    detections.forEach((d) => d.el.classList.toggle("chosen", d === detection));
    if (detection) drawn.hidden = true; else outline(box);
    const [x1, y1, x2, y2] = box.map(Math.round);
    text.textContent = `Box: ${name} (${x1}, ${y1} – ${x2}, ${y2})`;
    form.dataset.chosen = detection ? detection.el.id : name;
  }

  function pick(box, name, detection) {
    FIELDS.forEach((field, i) => { form.elements[field].value = Math.round(box[i]); });
    show(box, name, detection);
  }

  frame.addEventListener("mousedown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault(); // no image drag, no text selection
    start = point(event);
  });
  window.addEventListener("mousemove", (event) => {
    if (start && dragged(start, point(event))) {
      detections.forEach((d) => d.el.classList.remove("chosen"));
      outline(span(start, point(event)));
      return;
    }
    const under = frame.contains(event.target) ? smallestAt(point(event)) : null;
    detections.forEach((d) => d.el.classList.toggle("hover", d === under));
  });
  window.addEventListener("mouseup", (event) => {
    if (!start) return;
    const from = start;
    const to = point(event);
    start = null;
    if (dragged(from, to)) {
      pick(span(from, to), "drawn by hand", null);
      return;
    }
    const detection = smallestAt(to);
    if (detection) pick(detection.box, detection.el.dataset.name, detection);
    else restore(); // a click beside every box keeps the pick
  });
  // Keyboard: a focused box activated with Enter or Space (mouse clicks are handled above).
  detections.forEach((d) => d.el.addEventListener("click", (event) => {
    if (event.detail === 0) pick(d.box, d.el.dataset.name, d);
  }));
  const whole = document.getElementById("whole-image");
  whole.addEventListener("click", () => pick(boxOf(whole), "the whole image", null));

  // The pick the page came with (the best detection, or what was posted before).
  function restore() {
    const values = FIELDS.map((field) => form.elements[field].value);
    if (values.some((v) => v === "")) {
      detections.forEach((d) => d.el.classList.remove("chosen"));
      drawn.hidden = true;
      return;
    }
    const box = values.map(Number);
    const same = (a, b) => a.every((v, i) => Math.abs(v - b[i]) < 1);
    const detection = detections.find((d) => same(d.box, box));
    const isWhole = same(boxOf(whole), box);
    show(box, detection ? detection.el.dataset.name : isWhole ? "the whole image" : "drawn by hand", detection);
  }
  restore();
})();
