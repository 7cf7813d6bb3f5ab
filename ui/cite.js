// A citation marker in an answer ([1]) shows that answer's passages in the sources panel, unfolds
// the cited one if it is folded, scrolls to it and highlights it. Delegated from the document:
// the chat re-renders its bubbles. The chat's sanitizer keeps only href and class on a link, so
// the answer and the marker come from the href: #rag-src-<answer>-<marker>.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a.rag-cite") : null;
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const found = /^#rag-src-(\d+)-(\d+)$/.exec(link.getAttribute("href") || "");
  if (!found) return;
  const [, turn, marker] = found;
  const group = document.querySelector(`#sources .rag-turn[data-turn="${turn}"]`);
  if (!group) return;
  document.querySelectorAll("#sources .rag-turn").forEach((g) => g.classList.toggle("rag-hidden", g !== group));
  const card = group.querySelector(`.rag-source[data-markers~="${marker}"]`);
  if (!card) return;
  const fold = card.closest("details");
  if (fold) fold.open = true;
  document.querySelectorAll("#sources .rag-flash").forEach((c) => c.classList.remove("rag-flash"));
  card.classList.add("rag-flash");
  card.scrollIntoView({ behavior: "smooth", block: "center" });
  card.focus({ preventScroll: true });
}, true);
