// Acting on the library from the web: each action is an API call carried out by Discord I/O
// (?wait=30 returns its outcome). The session's CSRF token rides in X-CSRF-Token.
const csrf = document.body.dataset.csrf || "";

async function api(method, path, body) {
  const response = await fetch("/api/v1" + path, {
    method,
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((answer.error && answer.error.message) || response.statusText);
  return answer;
}

function say(text, bad) {
  const status = document.getElementById("status");
  if (status) { status.textContent = text; status.classList.toggle("bad", !!bad); }
}

async function act(button) {
  const eid = button.closest("[data-eid]").dataset.eid;
  const action = button.dataset.action;
  let method = "POST", path = `/records/${eid}/${action}?wait=30`, body;
  if (action === "delete") {
    if (!confirm("Delete this from Discord? This cannot be undone.")) return;
    method = "DELETE"; path = `/records/${eid}?wait=30`;
  } else if (action === "rename") {
    const name = prompt("New file name", button.dataset.name || ""); if (!name) return;
    body = { name };
  } else if (action === "edit") {
    const content = prompt("Text", button.dataset.text || ""); if (content === null) return;
    method = "PATCH"; path = `/records/${eid}?wait=30`; body = { content };
  } else if (action === "move") {
    const target = document.getElementById("move-target").value; if (!target) return;
    body = { channel_id: target };
  } else if (action === "album") {
    const album = document.getElementById("album-target").value; if (!album) return;
    method = "PUT"; path = `/albums/${album}/items/${eid}`;
  } else if (action === "favourite") {
    method = button.getAttribute("aria-pressed") === "true" ? "DELETE" : "PUT";
    path = `/records/${eid}/favourite`;
  } else if (action === "rotate") {
    body = { degrees: 90 };
  }
  say(`${action}: working…`);
  try {
    const answer = await api(method, path, body);
    if (answer.job && answer.job.state === "failed") throw new Error(answer.job.last_error);
    if (action === "album") {
      const chosen = document.getElementById("album-target");
      say(`added to ${chosen.options[chosen.selectedIndex].text}`);
      return;
    }
    say(`${action}: done`);
    if (action === "delete") location.href = "/gallery"; else location.reload();
  } catch (error) {
    say(`${action} failed: ${error.message}`, true);
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (button) { event.preventDefault(); act(button); }
});
