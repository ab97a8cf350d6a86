// Hit page: play the hit's interval in a loop and outline the vehicle while it is in view (the
// box of its best frame). Seeking outside the interval lets the whole video play on.
(function () {
  const video = document.getElementById("player");
  if (!video) return;
  const box = document.getElementById("video-box");
  const start = Number(video.dataset.start);
  const end = Math.max(Number(video.dataset.end), start + 0.5); // a one-frame hit still shows
  const SLACK_S = 0.1;
  let looping = true;

  const inInterval = (t) => t >= start - SLACK_S && t <= end + SLACK_S;
  function update() {
    if (looping && video.currentTime > end + SLACK_S) video.currentTime = start;
    if (box) box.hidden = !inInterval(video.currentTime);
  }
  video.addEventListener("seeking", () => {
    if (!inInterval(video.currentTime)) looping = false; // the user went elsewhere
  });
  video.addEventListener("timeupdate", update);
  video.addEventListener("ended", () => {
    if (!looping) return;
    video.currentTime = start;
    video.play();
  });
  video.addEventListener("seeked", update);
  video.addEventListener("loadedmetadata", () => {
    if (!inInterval(video.currentTime)) video.currentTime = start;
    update();
  });
})();
