// A citation marker in an answer ([1]) scrolls to its passage in the sources panel, unfolds it if
// it is folded, and highlights it. Delegated from the document: the chat re-renders its bubbles.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a.rag-cite") : null;
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  // The chat's sanitizer keeps only href and class, so the marker number comes from the href.
  const n = (link.getAttribute("href") || "").replace("#rag-src-", "");
  const card = document.querySelector(`#sources .rag-source[data-markers~="${CSS.escape(n)}"]`);
  if (!card) return;
  const fold = card.closest("details");
  if (fold) fold.open = true;
  document.querySelectorAll("#sources .rag-flash").forEach((c) => c.classList.remove("rag-flash"));
  card.classList.add("rag-flash");
  card.scrollIntoView({ behavior: "smooth", block: "center" });
  card.focus({ preventScroll: true });
}, true);
