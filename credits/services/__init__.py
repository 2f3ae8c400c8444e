"""Credits and deductions: the app's public services."""
