"""Take the README's screenshots from a running demo (`make run`), in Debian's Chromium.

    make run &                                   # the embedded default, with demo data
    .venv/bin/python docs/screenshots/take.py    # --base http://127.0.0.1:8000 --out docs/screenshots

Signs in as the demo clerk, opens each page at desktop size (and the review queue at phone
size), and writes one PNG per page. Fails if a page answers an error or logs a console error.
"""

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PAGES = [
    ("dashboard", "/", 1280),
    ("review-queue", "/payments/review/", 1280),
    ("accounting-changes", "/changes/", 1280),
    ("invoices", "/invoices/", 1280),
    ("customers", "/customers/", 1280),
    ("review-queue-phone", "/payments/review/", 390),
    ("collections-worklist", "/collections/", 1280),
    ("dunning-policy", "/collections/policy/", 1280),
    ("credit-notes", "/credits/credit-notes/", 1280),
    ("deductions", "/credits/deductions/", 1280),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default=str(Path(__file__).parent))
    parser.add_argument("--user", default="clerk")
    parser.add_argument("--password", default="arpilot-demo")
    args = parser.parse_args(argv)
    out = Path(args.out)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for name, path, width in PAGES:
            phone = width < 600  # a touch screen: no keyboard help
            context = browser.new_context(
                viewport={"width": width, "height": 900}, is_mobile=phone, has_touch=phone
            )
            page = context.new_page()
            page.on(
                "console",
                lambda message, name=name: (
                    problems.append(f"{name}: console {message.type}: {message.text}")
                    if message.type == "error"
                    else None
                ),
            )
            page.goto(args.base + "/accounts/login/")
            page.get_by_label("Username").fill(args.user)
            page.get_by_label("Password").fill(args.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state("networkidle")
            response = page.goto(args.base + path)
            page.wait_for_load_state("networkidle")
            if response is None or response.status >= 400:
                problems.append(f"{name}: {path} answered {response and response.status}")
            page.screenshot(path=str(out / f"{name}.png"))
            print(f"{name}: {out / (name + '.png')}")
            context.close()
        browser.close()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
