"""Real PDF and Word files built in the test, the way people's documents are laid out."""

from __future__ import annotations

from pathlib import Path

HEADER = "11/25/26, 10:24 AM Velmont Observatory Annual Report"
FOOTER_URL = "file:///home/ann/reports/velmont.html"

# Lines as a browser lays them out: wrapped mid-sentence, one word hyphenated across lines,
# one sentence carried over from page 1 to page 2.
PAGE_1 = [
    ("heading", "Velmont Observatory"),
    ("line", "The Velmont Observatory sits on the northern ridge above the valley and has been"),
    ("line", "run by the regional astronomy trust since 1962. Its main telescope, named"),
    ("line", "Aurora, is a 2.4 metre reflector that was commissioned in 1988 after a long cam-"),
    ("line", "paign by local amateurs. The observatory is open to visitors on clear Friday"),
    ("line", "evenings during the summer months, when volunteers guide tours of the dome."),
    ("heading", "People"),
    ("line", "The observatory employs eleven staff and hosts visiting researchers every year."),
    ("line", "The director of the observatory, who came from the national laboratory in 2019"),
    ("line", "and now leads the programme on variable stars and comets, is Dr. Ingrid"),
]
PAGE_2 = [
    ("line", "Halvorsen, the author of the northern survey of variable stars."),
    ("heading", "Funding"),
    ("line", "The annual budget of the observatory is 1.3 million euros, most of which comes"),
    ("line", "from the regional trust; the rest is raised by the friends of the observatory"),
    ("line", "through memberships and the winter lecture series held in the valley."),
]


def velmont_pdf(path: Path) -> Path:
    from fpdf import FPDF

    class Report(FPDF):
        def header(self):
            self.set_font("Helvetica", size=8)
            self.cell(0, 5, HEADER, new_x="LMARGIN", new_y="NEXT")
            self.ln(4)

        def footer(self):
            self.set_y(-12)
            self.set_font("Helvetica", size=8)
            self.cell(0, 5, f"{FOOTER_URL} {self.page_no()}/{{nb}}")

    pdf = Report(format="A4")
    pdf.set_title("Velmont Observatory Annual Report")
    for page in (PAGE_1, PAGE_2):
        pdf.add_page()
        for kind, text in page:
            if kind == "heading":
                pdf.ln(3)
                pdf.set_font("Helvetica", style="B", size=14)
                pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.set_font("Helvetica", size=11)
                pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def harbour_docx(path: Path, *, core_title: str = "") -> Path:
    import docx

    document = docx.Document()
    if core_title:
        document.core_properties.title = core_title
    document.add_heading("Kilwa Harbour Handbook", level=1)
    document.add_paragraph("The Kilwa harbour master is Amina Said. She has kept the harbour since 2009.")
    document.add_heading("Moorings", level=2)
    document.add_paragraph("Visiting boats moor at the eastern pier, where the water is deepest.")
    table = document.add_table(rows=3, cols=2)
    for row, (berth, fee) in zip(table.rows, [("Berth", "Daily fee"), ("Eastern pier", "40 shillings"),
                                               ("Fishing quay", "15 shillings")]):
        row.cells[0].text, row.cells[1].text = berth, fee
    document.save(str(path))
    return path


def browser_printed_pdf(path: Path, chromium: str) -> Path:
    """A web page printed to PDF by Chromium with its default header (date, time, title) and
    footer (URL, page n/N), the way a user saves an article."""
    from playwright.sync_api import sync_playwright

    notes = " ".join(f"Survey note {i}: the observers recorded steady skies over the ridge on most nights."
                     for i in range(90))
    html = path.with_suffix(".html")
    html.write_text(
        "<html><head><title>Velmont Observatory Annual Report</title></head><body style='font-size:16px'>"
        "<h1>Velmont Observatory</h1><p>Its main telescope, named Aurora, is a 2.4 metre reflector that was "
        f"commissioned in 1988 after a long campaign by local amateurs.</p><p>{notes}</p><h2>Funding</h2>"
        "<p>The annual budget of the observatory is 1.3 million euros.</p></body></html>", encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.goto(html.as_uri())
        page.pdf(path=str(path), display_header_footer=True, format="A4",
                 margin={"top": "1cm", "bottom": "1cm", "left": "1cm", "right": "1cm"})
        browser.close()
    return path


