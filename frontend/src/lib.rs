//! The browser half of Portcullis: hydrates the server-rendered pages.
//!
//! Each page belongs to a lazy section (see `app::ui`): with `cargo leptos --split` a
//! section's code is a wasm module of its own, which hydration awaits (the server has already
//! named it for preloading) before it takes over the page.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document().body().expect("a page has a body");
        leptos::mount::hydrate_from_async(body.clone(), app::ui::App).await.forget();
        // Says that the page's forms now run in the page (the browser tests wait for it before
        // they use what only works hydrated, such as a dry run's report).
        let _ = body.set_attribute("data-hydrated", "");
    });
}
