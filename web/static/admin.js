// The permissions page: each row saves itself through /api/v1 (admins only).
const csrf = document.body.dataset.csrf || "";

async function save(form) {
  let path, body;
  if (form.dataset.channel) {
    path = `/channels/${form.dataset.channel}/permissions`;
    body = {};
    for (const right of ["read", "write", "manage"]) body[right] = form.elements[right].value.trim() || null;
  } else {
    path = `/roles/${form.dataset.role}/permissions`;
    body = { permissions: form.elements.permissions.value.split(/[\s,]+/).filter(Boolean) };
  }
  const response = await fetch("/api/v1" + path, {
    method: "PUT",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((answer.error && answer.error.message) || response.statusText);
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.perm");
  if (!form) return;
  event.preventDefault();
  const status = document.getElementById("status");
  try {
    await save(form);
    status.textContent = "Saved.";
    status.classList.remove("bad");
  } catch (error) {
    status.textContent = error.message;
    status.classList.add("bad");
  }
});
