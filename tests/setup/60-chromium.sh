# Headless Chromium and chromedriver for mail-web's browser test (the page
# driven over WebDriver), and a CJK font so Chinese text renders in
# screenshots. Debian packages by name; no browser download by a test tool.
need_packages chromium chromium-driver fonts-wqy-zenhei
chromium --version >/dev/null 2>&1 || preflight_fail "chromium does not run: install the Debian package chromium"
chromedriver --version >/dev/null 2>&1 || preflight_fail "chromedriver does not run: install the Debian package chromium-driver"
