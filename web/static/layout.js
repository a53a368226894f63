// On a narrow screen the folders sit behind the "Folders" button in the top bar.
(function () {
  const toggle = document.querySelector(".folders-toggle");
  if (!toggle) return;
  toggle.addEventListener("click", () => {
    const open = document.body.classList.toggle("folders-open");
    toggle.setAttribute("aria-expanded", String(open));
  });
})();
