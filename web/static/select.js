// Select many tiles (click with the toolbar's "Select" on, or shift-click) and act on all
// of them: each action is the same API call as on an item page, one per record.
(function () {
  const bar = document.getElementById("selection");
  const grid = document.getElementById("grid");
  if (!bar || !grid) return;
  const csrf = document.body.dataset.csrf || "";
  const chosen = new Set();
  let selecting = false;
  const count = bar.querySelector(".count");
  const refresh = () => {
    count.textContent = `${chosen.size} selected`;
    bar.querySelectorAll("button[data-bulk]").forEach((b) => (b.disabled = chosen.size === 0));
  };
  bar.querySelector("[data-toggle]").addEventListener("click", () => {
    selecting = !selecting;
    document.body.classList.toggle("selecting", selecting);
    if (!selecting) { chosen.clear(); grid.querySelectorAll(".chosen").forEach((t) => t.classList.remove("chosen")); }
    refresh();
  });
  grid.addEventListener("click", (event) => {
    const tile = event.target.closest(".tile");
    if (!tile || !(selecting || event.shiftKey)) return;
    event.preventDefault();
    const eid = tile.dataset.eid;
    if (chosen.has(eid)) { chosen.delete(eid); tile.classList.remove("chosen"); }
    else { chosen.add(eid); tile.classList.add("chosen"); }
    refresh();
  });
  bar.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-bulk]");
    if (!button) return;
    const action = button.dataset.bulk;
    let method = "POST", body, suffix = `/${action}`;
    let url = (eid) => `/api/v1/records/${eid}${suffix}?wait=30`;
    if (action === "album") {
      const album = bar.querySelector("select[data-album]").value;
      method = "PUT"; url = (eid) => `/api/v1/albums/${album}/items/${eid}`;
    } else if (action === "delete") {
      if (!confirm(`Delete ${chosen.size} item(s) from Discord? This cannot be undone.`)) return;
      method = "DELETE"; suffix = "";
    } else if (action === "move") {
      body = JSON.stringify({ channel_id: bar.querySelector("select[data-move]").value });
    } else if (action === "favourite") {
      method = "PUT";
    }
    const status = bar.querySelector(".status");
    let done = 0, failed = 0;
    for (const eid of chosen) {
      const response = await fetch(url(eid), {
        method, body, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok && !(answer.job && answer.job.state === "failed")) done++; else failed++;
      status.textContent = `${action}: ${done} done${failed ? `, ${failed} failed` : ""}`;
    }
    if (!failed) location.reload();
  });
  refresh();
})();
