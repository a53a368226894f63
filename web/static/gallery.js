// Infinite scroll: when the "More" link comes into view, fetch the next page of tiles
// (the same query, as HTML from /gallery?...&fragment=1) and append it.
(function () {
  const grid = document.getElementById("grid");
  const more = document.getElementById("more");
  if (!grid || !more || !("IntersectionObserver" in window)) return;
  let loading = false;
  const observer = new IntersectionObserver(async (entries) => {
    if (!entries.some((e) => e.isIntersecting) || loading) return;
    loading = true;
    const url = new URL(more.href);
    url.searchParams.set("fragment", "1");
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) { loading = false; return; }
    grid.insertAdjacentHTML("beforeend", await response.text());
    const next = response.headers.get("X-Next-Page");
    if (next) { more.href = next; loading = false; } else { more.remove(); observer.disconnect(); }
  });
  observer.observe(more);
})();
