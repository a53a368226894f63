// The keys the gallery answers to (never while typing in a field, or with Ctrl/Alt/Meta):
//   in a grid of tiles: arrows move between tiles, Enter opens one;
//   on an item: ← newer, → older, Esc back to the listing it was opened from, f favourite.
(function () {
  const LISTING = "sequenzia.listing";
  const grid = document.getElementById("grid");
  const item = document.querySelector("article.item");
  if (grid) sessionStorage.setItem(LISTING, location.href);
  const up = document.querySelector("a[rel=up]");
  const listing = sessionStorage.getItem(LISTING);
  if (up && listing && new URL(listing).origin === location.origin) up.href = listing;

  const tiles = () => Array.from(document.querySelectorAll("#grid .tile > a"));
  const centre = (box) => box.left + box.width / 2;
  function neighbour(from, key) {
    const all = tiles();
    const at = all.indexOf(from);
    if (key === "ArrowRight") return all[at + 1];
    if (key === "ArrowLeft") return all[at - 1];
    const box = from.getBoundingClientRect();
    const down = key === "ArrowDown";
    const beyond = all
      .map((a) => [a, a.getBoundingClientRect()])
      .filter(([, r]) => (down ? r.top >= box.bottom - 1 : r.bottom <= box.top + 1));
    if (!beyond.length) return undefined;
    const tops = beyond.map(([, r]) => r.top);
    const row = down ? Math.min(...tops) : Math.max(...tops);
    const inRow = beyond.filter(([, r]) => Math.abs(r.top - row) < 2);
    const x = centre(box);
    inRow.sort(([, p], [, q]) => Math.abs(centre(p) - x) - Math.abs(centre(q) - x));
    return inRow[0][0];
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.target.closest && event.target.closest("input, textarea, select, video, audio, [contenteditable]")) return;
    if (item) {
      const rel = { ArrowLeft: "prev", ArrowRight: "next", Escape: "up" }[event.key];
      const link = rel && document.querySelector(`a[rel=${rel}]`);
      if (link) { event.preventDefault(); location.href = link.href; return; }
      const favourite = event.key === "f" && document.querySelector("button[data-action=favourite]");
      if (favourite) { event.preventDefault(); favourite.click(); }
      return;
    }
    if (!grid || !["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)) return;
    const current = document.activeElement && document.activeElement.closest("#grid .tile > a");
    const target = current
      ? neighbour(current, event.key)
      : tiles().find((a) => a.getBoundingClientRect().bottom > 0);
    if (!target) return;
    event.preventDefault();
    target.focus();
    target.scrollIntoView({ block: "nearest" });
  });
})();
