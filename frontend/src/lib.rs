//! The browser entry point: hydrates the server-rendered page. Everything else lives in `portolan-app`.

/// Called by the hydration script that the server embeds in every page.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(portolan_app::App);
}
