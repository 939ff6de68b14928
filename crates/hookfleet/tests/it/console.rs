//! The web console at `/console`: its page and assets are served without a credential (they
//! hold no data), each with its content type and the strict Content-Security-Policy, while the
//! API they call still requires one; the scripts never turn data into markup.
use hookfleet_testkit::spawn_api;
use serde_json::Value;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// GETs `path` with no credential, checks the console's headers, and returns the body.
async fn fetch_asset(http: &reqwest::Client, base: &str, path: &str, content_type: &str) -> String {
    let res = http.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        header("content-type").starts_with(content_type),
        "{path}: {}",
        header("content-type")
    );
    assert_eq!(header("content-security-policy"), CSP, "{path}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    res.text().await.unwrap()
}

/// Every `/console/…` path named in `text` after `marker` (`src="`, `href="`, `from './`).
fn referenced(text: &str, marker: &str, prefix: &str) -> Vec<String> {
    text.split(marker)
        .skip(1)
        .filter_map(|rest| rest.split(['"', '\'']).next())
        .filter(|p| p.starts_with(prefix))
        .map(|p| format!("/console/{}", p.trim_start_matches(prefix)))
        .collect()
}

fn content_type_of(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        _ => "text/html",
    }
}

#[tokio::test]
async fn the_console_and_its_assets_need_no_credential_and_carry_the_csp() {
    let app = spawn_api().await;
    let http = reqwest::Client::new();
    let page = fetch_asset(&http, &app.api, "/console", "text/html").await;
    assert_eq!(
        page,
        fetch_asset(&http, &app.api, "/console/", "text/html").await
    );
    assert!(!page.contains("%VERSION%"), "the version is filled in");
    // The CSP forbids inline script and style: every script must come from a file.
    assert_eq!(
        page.matches("<script").count(),
        page.matches("<script type=\"module\" src=\"/console/")
            .count(),
        "{page}"
    );
    assert!(!page.contains("style="), "no inline style");

    let mut assets = referenced(&page, "src=\"", "/console/");
    assets.extend(referenced(&page, "href=\"", "/console/"));
    let mut seen = std::collections::HashSet::new();
    while let Some(path) = assets.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let body = fetch_asset(&http, &app.api, &path, content_type_of(&path)).await;
        if path.ends_with(".js") {
            // Outside data is added as text: nothing parses strings as markup or code.
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
            ] {
                assert!(!body.contains(sink), "{path} uses {sink}");
            }
            assets.extend(referenced(&body, "from '", "./"));
        }
    }
    for expected in [
        "/console/app.js",
        "/console/style.css",
        "/console/delivery.js",
        "/console/log.js",
    ] {
        assert!(seen.contains(expected), "{expected} not reached: {seen:?}");
    }
}

#[tokio::test]
async fn the_api_behind_the_console_still_needs_a_credential() {
    let app = spawn_api().await;
    let http = reqwest::Client::new();
    for path in ["/v1/subscriptions?limit=1", "/v1/deliveries"] {
        let res = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
        let wrong = http
            .get(app.url(path))
            .bearer_auth("not-the-token")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
    }
    // With the admin token the same call answers: the console's sign-in check.
    assert_eq!(app.get("/v1/subscriptions?limit=1").await.status(), 200);
}

#[tokio::test]
async fn unknown_or_hostile_console_paths_are_answered_without_a_5xx() {
    let app = spawn_api().await;
    let http = reqwest::Client::new();
    let res = http.get(app.url("/console/nope.js")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    for path in [
        "/console/%00",
        "/console/%ff",
        "/console/..%2F..%2Fetc%2Fpasswd",
        "/console/app.js%00",
        "/console/app.js/extra",
    ] {
        let status = http.get(app.url(path)).send().await.unwrap().status();
        assert!(status.is_client_error(), "{path}: {status}");
    }
    let post = http.post(app.url("/console")).send().await.unwrap();
    assert_eq!(post.status(), 405);
}
