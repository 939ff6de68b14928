"""The web console, driven in headless Chromium as a person would (run by check-console.sh).

Signs in, creates a subscription to a receiver on loopback, sends a test event and sees it
delivered, makes the receiver fail and watches the retries appear until the delivery is given
up, reads the log with filters, resends, and tries disable/enable, secret rotation and
recovery. Every page is saved as a PNG in SCREENSHOT_DIR and its path printed.

Environment: CONSOLE_BASE (the producer, e.g. http://127.0.0.1:19080), CONSOLE_TOKEN (its
admin token), SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium).
"""
import datetime
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.request

from playwright.sync_api import expect, sync_playwright

BASE = os.environ["CONSOLE_BASE"]
TOKEN = os.environ["CONSOLE_TOKEN"]
SHOTS = os.environ["SCREENSHOT_DIR"]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Outside text the console must show as text: a response body with markup in it.
# What went wrong in the page: script errors, CSP refusals, answers of 400 and over.
ERRORS = []
FAILURE_BODY = b"receiver is down <b id='injected'>not markup</b>"


class Receiver:
    """An HTTP receiver on 127.0.0.1 whose answer the test switches between 200 and 500."""

    def __init__(self):
        self.status = 200
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests.append(dict(self.headers))
                    status = receiver.status
                body = b"thanks" if status < 300 else FAILURE_BODY
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.requests)


def call(path, body):
    """POSTs to the API with the admin token (for what the console has no page for)."""
    req = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        assert res.status in (201, 202), res.status
        return json.load(res)


def publish(event):
    return call("/v1/events", event)["id"]


def local_input(delta):
    """A datetime-local input's value, `delta` from now in the browser's (this machine's) zone."""
    return (datetime.datetime.now() + delta).strftime("%Y-%m-%dT%H:%M:%S")


def shot(page, name):
    path = os.path.join(SHOTS, name)
    page.screenshot(path=path, full_page=True)
    print("screenshot:", path, flush=True)


def sign_in(page):
    page.goto(BASE + "/console")
    expect(page.locator("#credential")).to_be_visible()
    page.fill("#credential", "not-the-token")
    page.click("#sign-in")
    expect(page.get_by_test_id("notice-error")).to_contain_text("not accepted")
    shot(page, "01-login.png")
    # A real key without the admin scope is refused with the reason.
    key = call("/v1/api-keys", {"name": "console test", "scopes": ["organization:org-7"]})["key"]
    page.fill("#credential", key)
    page.click("#sign-in")
    expect(page.get_by_test_id("notice-error")).to_contain_text("needs the admin token or a key with the admin scope")
    expect(page.locator("#nav")).to_be_hidden()
    page.fill("#credential", TOKEN)
    page.click("#sign-in")
    expect(page.locator("h1")).to_have_text("Subscriptions")
    expect(page.locator("#nav")).to_be_visible()


def create_subscription(page, receiver):
    page.fill("#new-url", receiver.url)
    page.fill("#new-types", "console.*")
    page.fill("#new-description", "console test <i>receiver</i>")
    page.click("#create")
    expect(page.get_by_test_id("new-secret")).to_have_text(re.compile(r"^whsec_"))
    row = page.locator("#subscriptions tbody tr", has_text=receiver.url)
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("state")).to_have_text("active")
    expect(row.get_by_test_id("rate")).to_have_text("no attempts yet")
    expect(row).to_contain_text("console test <i>receiver</i>")
    sub_id = row.get_by_test_id("id").locator("a").inner_text()
    assert sub_id.startswith("sub_"), sub_id
    shot(page, "02-subscriptions.png")
    return sub_id


def send_test(page):
    """Clicks "Send test event" on a subscription's page; the new delivery's id."""
    page.click("#send-test")
    link = page.get_by_test_id("notice-ok").filter(has_text="Test event sent").locator("a")
    expect(link).to_have_text(re.compile(r"^dlv_"))
    return link.inner_text()


def delivery_row(page, delivery_id):
    return page.get_by_test_id("sub-deliveries").locator("tr", has_text=delivery_id)


def watch_retries(page, receiver, delivery_id):
    """On the delivery's page: the attempts appear one by one until it is given up."""
    page.goto("%s/console#/deliveries/%s" % (BASE, delivery_id))
    # Opened at once, the page may be quicker than the worker: it says so and looks again.
    expect(page.get_by_test_id("delivery-status")).to_be_visible()
    not_yet = "404 %s/v1/deliveries/%s" % (BASE, delivery_id)
    ERRORS[:] = [e for e in ERRORS if e != not_yet]
    attempts = page.get_by_test_id("attempt")
    expect(attempts).not_to_have_count(0, timeout=10_000)
    seen = [attempts.count()]
    deadline = time.time() + 40
    while page.get_by_test_id("delivery-status").inner_text() != "exhausted":
        assert time.time() < deadline, "the delivery was not given up within 40 s"
        time.sleep(0.3)
        n = attempts.count()
        if n != seen[-1]:
            seen.append(n)
    expect(attempts).to_have_count(4)
    print("attempts seen on the page as they appeared:", seen, flush=True)
    assert len(seen) >= 3, "the retries did not appear one after another: %s" % seen
    assert receiver.count() >= 5
    for i in range(4):
        card = attempts.nth(i)
        expect(card.get_by_test_id("attempt-outcome")).to_have_text("HTTP 500")
        # Outside text is shown as text, never as markup.
        expect(card.get_by_test_id("excerpt")).to_have_text(FAILURE_BODY.decode())
        expect(card.get_by_test_id("request-headers")).to_contain_text("webhook-id" + delivery_id)
    assert page.locator("#injected").count() == 0, "a response body was rendered as markup"
    shot(page, "04-delivery-retries.png")


def check_log(page, sub_id, failed_id, delivered_id, org_event):
    """The log across subscriptions, filtered by status, type, organization and time."""
    page.click("a[data-nav=deliveries]")
    expect(page.locator("h1")).to_have_text("Delivery log")
    log = page.get_by_test_id("log")
    expect(log.locator("tr", has_text=failed_id)).to_have_count(1)
    page.select_option("#filter-status", "exhausted")
    page.fill("#filter-subscription", sub_id)
    page.fill("#filter-type", "console.test")
    page.click("#apply-filters")
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log.locator("tbody tr")).to_contain_text(failed_id)
    expect(log.get_by_test_id("status")).to_have_text("exhausted")
    expect(log).to_contain_text("console.test")
    shot(page, "05-log-filtered.png")
    page.select_option("#filter-status", "delivered")
    page.click("#apply-filters")
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log).to_contain_text(delivered_id)
    # By organization: only the event sent to org-7 (the test sends have none).
    page.select_option("#filter-status", "")
    page.fill("#filter-type", "")
    page.fill("#filter-organization", "org-7")
    page.click("#apply-filters")
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log.locator("tbody tr")).to_contain_text("console.paid")
    expect(log.locator("tbody tr")).to_contain_text("org-7")
    event_delivery = log.locator("tbody tr a[href^='#/deliveries/']").inner_text()
    # By time: nothing was created after an hour from now; all of it after an hour ago.
    page.fill("#filter-organization", "")
    page.fill("#filter-since", local_input(datetime.timedelta(hours=1)))
    page.click("#apply-filters")
    expect(page.get_by_test_id("log-empty")).to_be_visible()
    page.fill("#filter-since", local_input(-datetime.timedelta(hours=1)))
    page.click("#apply-filters")
    expect(log.locator("tbody tr")).to_have_count(3)
    fits_1280(page, log)
    page.fill("#filter-type", "other.type")
    page.click("#apply-filters")
    expect(page.get_by_test_id("log-empty")).to_be_visible()
    assert event_delivery.startswith("dlv_") and org_event.startswith("evt_")


def fits_1280(page, table):
    """At 1280 px the log needs no sideways scrolling, and every column says what it is."""
    page.set_viewport_size({"width": 1280, "height": 900})
    widths = table.evaluate("t => [t.scrollWidth, t.parentElement.clientWidth, innerWidth]")
    assert widths[0] <= widths[1] and widths[1] <= widths[2], "the log is wider than 1280 px: %s" % widths
    headers = table.locator("thead th").all_inner_texts()
    assert all(h.strip() for h in headers), "a column has no header: %s" % headers
    shot(page, "05b-log-1280.png")
    page.set_viewport_size({"width": 1360, "height": 900})


def pull_health(page):
    """A pull subscription's copies are put on its queue, recorded with no HTTP status: its
    health counts them as the successes they are."""
    sub = call("/v1/subscriptions", {"event_types": ["console.*"], "delivery": "pull"})
    page.goto("%s/console#/subscriptions/%s" % (BASE, sub["id"]))
    expect(page.get_by_test_id("sub-state")).to_have_text("active")
    put = send_test(page)
    expect(delivery_row(page, put).get_by_test_id("status")).to_have_text("delivered", timeout=15_000)
    page.reload()
    expect(page.get_by_test_id("success-rate")).to_have_text("100 % of 1 attempts")
    expect(page.get_by_test_id("last-error")).to_have_text("none")
    expect(delivery_row(page, put)).to_contain_text("queued for pull")
    shot(page, "08-pull-subscription.png")


def resend(page, receiver, delivery_id):
    receiver.status = 200
    page.goto("%s/console#/deliveries/%s" % (BASE, delivery_id))
    expect(page.get_by_test_id("delivery-status")).to_have_text("exhausted")
    page.click("#resend")
    expect(page.get_by_test_id("notice-ok")).to_have_text("Sent again as attempt 5.")
    expect(page.get_by_test_id("delivery-status")).to_have_text("delivered", timeout=15_000)
    latest = page.get_by_test_id("attempt").first
    expect(latest).to_have_attribute("data-attempt", "5")
    expect(latest.get_by_test_id("attempt-outcome")).to_have_text("HTTP 200")
    expect(latest.get_by_test_id("excerpt")).to_have_text("thanks")
    shot(page, "06-delivery-resent.png")


def other_actions(page, receiver, sub_id):
    """Disable and enable, rotate the secret, and recover a delivery given up."""
    page.goto("%s/console#/subscriptions/%s" % (BASE, sub_id))
    page.click("#disable")
    expect(page.get_by_test_id("sub-state")).to_have_text("disabled")
    expect(page.locator("#enable")).to_be_visible()
    page.click("#enable")
    expect(page.get_by_test_id("sub-state")).to_have_text("active")
    page.click("#rotate")
    expect(page.get_by_test_id("rotated-secret")).to_have_text(re.compile(r"^whsec_"))
    # One more failure, given up, then recovered from the page once the receiver is back.
    receiver.status = 500
    failed = send_test(page)
    expect(delivery_row(page, failed).get_by_test_id("status")).to_have_text("exhausted", timeout=30_000)
    receiver.status = 200
    page.click("#recover")
    expect(page.get_by_test_id("notice-ok")).to_contain_text("Recovered 1 deliveries")
    expect(delivery_row(page, failed).get_by_test_id("status")).to_have_text("delivered", timeout=15_000)
    shot(page, "07-subscription-after-actions.png")


def main():
    os.makedirs(SHOTS, exist_ok=True)
    receiver = Receiver()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        errors = ERRORS
        # Script errors and CSP refusals show as console errors; failed requests are listed by
        # their answers instead (Chromium also logs each as "Failed to load resource").
        page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource") and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("response", lambda r: r.status >= 400 and errors.append("%d %s" % (r.status, r.url)))
        expect.set_options(timeout=10_000)

        try:
            sign_in(page)
            del errors[:]  # the wrong credential's 401, on purpose
            sub_id = create_subscription(page, receiver)

            page.click("#subscriptions a[href='#/subscriptions/%s']" % sub_id)
            expect(page.get_by_test_id("sub-state")).to_have_text("active")
            delivered = send_test(page)
            expect(delivery_row(page, delivered).get_by_test_id("status")).to_have_text("delivered", timeout=15_000)
            expect(page.get_by_test_id("success-rate")).to_have_text("100 % of 1 attempts")
            assert receiver.count() == 1
            org_event = publish({"type": "console.paid", "organization_ids": ["org-7"], "data": {"n": 1}})
            rows = page.get_by_test_id("sub-deliveries").locator("tbody tr")
            expect(rows.filter(has_text="HTTP 200")).to_have_count(2, timeout=15_000)
            shot(page, "03-subscription.png")

            receiver.status = 500
            failing = send_test(page)
            watch_retries(page, receiver, failing)

            page.goto("%s/console#/subscriptions/%s" % (BASE, sub_id))
            expect(page.get_by_test_id("success-rate")).to_have_text("33.3 % of 6 attempts")
            expect(page.get_by_test_id("last-error")).to_contain_text("HTTP 500")
            expect(page.get_by_test_id("parked")).to_have_text("1")

            check_log(page, sub_id, failing, delivered, org_event)
            resend(page, receiver, failing)
            other_actions(page, receiver, sub_id)
            pull_health(page)

        except Exception:
            # What the page showed when it failed, and what it logged, for CI's output.
            shot(page, "failure.png")
            print("page errors:", errors, file=sys.stderr, flush=True)
            raise
        browser.close()
    # The pages ran under the Content-Security-Policy: anything it blocked is an error here.
    assert not errors, "errors in the page: %s" % errors
    print("console test: passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # print a short cause before the traceback, for CI's log
        print("console test: FAILED:", e, file=sys.stderr, flush=True)
        raise
