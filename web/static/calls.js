// Albums, history and settings: each button or form makes one API call.
//   <button data-api="METHOD /path" [data-body='{...}'] [data-confirm="question"]>
//   <form data-api="METHOD /path" [data-show-secret]>  (its fields are the JSON body)
// then the page reloads, except that a new key is shown (once) instead. The session's CSRF
// token rides in X-CSRF-Token.
(function () {
  const csrf = document.body.dataset.csrf || "";
  const say = (text) => {
    const status = document.getElementById("status");
    if (status) { status.textContent = text; status.classList.add("bad"); }
  };
  async function call(spec, body) {
    const [method, path] = spec.split(" ");
    const response = await fetch("/api/v1" + path, {
      method, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((answer.error && answer.error.message) || response.statusText);
    return answer;
  }
  document.addEventListener("click", async (event) => {
    const copy = event.target.closest("button[data-copy]");
    if (copy) {
      const field = document.getElementById(copy.dataset.copy);
      field.select();
      if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(() => (copy.textContent = "Copied"), () => {});
      return;
    }
    const button = event.target.closest("button[data-api]");
    if (!button) return;
    event.preventDefault();
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    try {
      await call(button.dataset.api, button.dataset.body ? JSON.parse(button.dataset.body) : undefined);
      location.reload();
    } catch (error) { say(error.message); }
  });
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    event.preventDefault();
    try {
      const answer = await call(form.dataset.api, Object.fromEntries(new FormData(form)));
      if (!("showSecret" in form.dataset)) { location.reload(); return; }
      const box = document.getElementById("secret");
      document.getElementById("secret-value").value = answer.secret;
      box.hidden = false;
      form.reset();
      document.getElementById("secret-value").select();
    } catch (error) { say(error.message); }
  });
  document.querySelectorAll("input[readonly].share-url").forEach((field) => {
    field.value = location.origin + field.value;  // a link to send to someone
    field.addEventListener("focus", () => field.select());
  });
})();
