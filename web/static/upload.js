// Upload by drag and drop (or the file picker) into the channel being viewed, through the
// resumable upload API: hash (xxh3-128, vendored hash-wasm), create, send parts, complete.
const csrfToken = document.body.dataset.csrf || "";

async function call(method, path, body, headers) {
  const response = await fetch("/api/v1" + path, {
    method, credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken, ...(headers || { "Content-Type": "application/json" }) },
    body,
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((answer.error && answer.error.message) || response.statusText);
  return answer;
}

async function digest(blob) {
  const hasher = await hashwasm.createXXHash128();
  hasher.init();
  const step = 8 * 1024 * 1024;
  for (let at = 0; at < blob.size; at += step) {
    hasher.update(new Uint8Array(await blob.slice(at, at + step).arrayBuffer()));
  }
  return hasher.digest();
}

async function uploadOne(file, channel, row) {
  const show = (text) => { row.querySelector(".state").textContent = text; };
  show("hashing…");
  const hash = await digest(file);
  const { upload } = await call("POST", "/uploads", JSON.stringify({ name: file.name, size: file.size, xxh3_128: hash, channel_id: channel }));
  let sent = 0;
  for (let n = 0; n < upload.part_count; n++) {
    const part = file.slice(n * upload.part_size, (n + 1) * upload.part_size);
    await call("PUT", `/uploads/${upload.id}/parts/${n}`, part, { "X-Xxh3-128": await digest(part) });
    sent += part.size;
    show(`${Math.round((100 * sent) / Math.max(1, file.size))}%`);
  }
  show("storing…");
  const done = await call("POST", `/uploads/${upload.id}/complete?wait=60`);
  if (done.job.state === "failed") throw new Error(done.job.last_error);
  show("done");
  row.dataset.eid = done.upload.eid;
  return done.upload.eid;
}

function start(files) {
  const zone = document.getElementById("drop");
  const list = document.getElementById("uploads");
  const channel = zone.dataset.channel;
  return Promise.all(Array.from(files).map(async (file) => {
    const row = document.createElement("li");
    row.innerHTML = '<span class="name"></span> <span class="state">waiting</span>';
    row.querySelector(".name").textContent = file.name;
    list.appendChild(row);
    try { await uploadOne(file, channel, row); }
    catch (error) { row.querySelector(".state").textContent = "failed: " + error.message; row.classList.add("bad"); }
  }));
}

(function () {
  const zone = document.getElementById("drop");
  if (!zone) return;
  const picker = zone.querySelector("input[type=file]");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); start(e.dataTransfer.files); });
  picker.addEventListener("change", () => start(picker.files));
  window.sequenziaUpload = start;
})();
