//! The app and its page (wasm): the page reads the run's state from attributes on `#app` (ready, trace hash, down
//! brokers, broker rectangles, share link), passes in scenario files through `load_scenario`, and the Share
//! button writes the link to the clipboard and the address bar. On the desktop, Share prints the link.

use bevy_egui::egui;

/// Puts the link for `query` where the user can take it.
pub fn share(query: &str, ctx: &egui::Context) {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = ctx;
        let url = page::url_with(query);
        page::replace_url(query);
        page::copy_to_clipboard(&url);
        page::set_app_attr("data-share-url", &url);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let link = format!("kafkascope-viz --link '{query}'");
        ctx.copy_text(link.clone());
        println!("{link}");
    }
}

#[cfg(target_arch = "wasm32")]
pub mod page {
    //! Page access through web-sys; every call tolerates a missing element or API.
    use crate::{DrawnLayout, LaunchOptions, Playback, Runs, UiAction, UiLang, Views};
    use bevy::prelude::*;
    use std::sync::Mutex;
    use wasm_bindgen::prelude::wasm_bindgen;

    static PENDING_FILES: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

    /// Called by the page (file picker, drag-and-drop) with a scenario file's name and text.
    #[wasm_bindgen]
    pub fn load_scenario(name: String, text: String) {
        if let Ok(mut pending) = PENDING_FILES.lock() {
            pending.push((name, text));
        }
    }

    pub fn query_string() -> String {
        web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
    }

    pub fn url_with(query: &str) -> String {
        let location = web_sys::window().map(|w| w.location());
        let base = location
            .map(|l| format!("{}{}", l.origin().unwrap_or_default(), l.pathname().unwrap_or_default()))
            .unwrap_or_default();
        format!("{base}{query}")
    }

    pub fn replace_url(query: &str) {
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(query));
        }
    }

    pub fn copy_to_clipboard(text: &str) {
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(text);
        }
    }

    pub fn set_app_attr(name: &str, value: &str) {
        if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("app")) {
            let _ = el.set_attribute(name, value);
        }
    }

    fn now_ms() -> f64 {
        web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
    }

    pub struct WebPlugin;

    impl Plugin for WebPlugin {
        fn build(&self, app: &mut App) {
            app.add_systems(
                Update,
                (take_page_files.before(crate::VizCoreSet), publish_state.after(crate::VizCoreSet)),
            );
        }
    }

    fn take_page_files(mut actions: MessageWriter<UiAction>) {
        let files = PENDING_FILES.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
        for (name, text) in files {
            actions.write(UiAction::LoadFile { name, text });
        }
    }

    /// Writes the state the page and the browser test read, only when a value changed.
    fn publish_state(
        runs: Res<Runs>,
        views: Res<Views>,
        drawn: Res<DrawnLayout>,
        playback: Res<Playback>,
        lang: Res<UiLang>,
        mut written: Local<Vec<(&'static str, String)>>,
    ) {
        if drawn.frames == 0 {
            return;
        }
        let first_frame = !written.iter().any(|(n, _)| *n == "data-first-frame-ms");
        let mut set = |name: &'static str, value: String| {
            if let Some(slot) = written.iter_mut().find(|(n, _)| *n == name) {
                if slot.1 == value {
                    return;
                }
                slot.1 = value.clone();
            } else {
                written.push((name, value.clone()));
            }
            set_app_attr(name, &value);
        };
        if first_frame {
            set("data-first-frame-ms", format!("{:.0}", now_ms()));
        }
        let down: Vec<String> = views.a.down_brokers().iter().map(|b| b.0.to_string()).collect();
        set("data-down-brokers", down.join(","));
        let rects: Vec<String> = drawn
            .brokers
            .iter()
            .map(|(b, r)| format!("\"{}\":[{:.0},{:.0},{:.0},{:.0}]", b.0, r.left(), r.top(), r.width(), 24.0))
            .collect();
        set("data-broker-rects", format!("{{{}}}", rects.join(",")));
        if let Some(r) = drawn.share_button {
            set(
                "data-share-button-rect",
                format!("[{:.0},{:.0},{:.0},{:.0}]", r.left(), r.top(), r.width(), r.height()),
            );
        }
        // The scenario shown: a built-in name, or a loaded file's name.
        set("data-scenario", runs.a.setup.name.clone());
        let query = LaunchOptions::link_of(&runs, playback.display_time, lang.0).to_query();
        set("data-share-url", url_with(&query));
        set("data-time-us", playback.display_time.to_string());
        // The last load error, with the CLI's `file:line:col: message`; empty once a scenario loads.
        set("data-error", runs.error.clone().unwrap_or_default());
        if let Some(outcome) = runs.a.outcome() {
            set("data-trace-hash", outcome.trace_hash.clone());
            set("data-ready", "1".into());
        }
    }
}
