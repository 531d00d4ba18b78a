//! Small building blocks every page uses: page headers, cards, form fields with their
//! error, alerts, empty states and copyable commands.

use leptos::prelude::*;
use leptos::server_fn::{client::Client, codec::PostUrl, request::ClientReq, Http, ServerFn};

use crate::error::AppError;

/// Tailwind classes shared by inputs and buttons, so every form looks the same.
pub const INPUT: &str = "block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm text-slate-900 \
     shadow-sm placeholder:text-slate-500 focus:border-indigo-500 focus:outline-none focus:ring-2 \
     focus:ring-indigo-500/30";
pub const BUTTON: &str = "inline-flex items-center justify-center gap-2 rounded-md bg-indigo-600 px-4 py-2 text-sm \
     font-semibold text-white shadow-sm hover:bg-indigo-500 focus:outline-none focus:ring-2 \
     focus:ring-indigo-500/50 disabled:cursor-wait disabled:opacity-60";
pub const BUTTON_SECONDARY: &str = "inline-flex items-center justify-center gap-2 rounded-md border border-slate-300 \
     bg-white px-4 py-2 text-sm font-semibold text-slate-700 shadow-sm hover:bg-slate-50";
pub const LINK: &str = "font-medium text-indigo-600 hover:text-indigo-500 hover:underline";

/// Title and optional subtitle at the top of a page, with actions on the right.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(optional, into)] subtitle: Option<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="mb-6 flex flex-col gap-3 sm:flex-row sm:items-end sm:justify-between">
            <div class="min-w-0">
                <h1 class="truncate text-2xl font-bold tracking-tight text-slate-900">{title}</h1>
                {subtitle.map(|s| view! { <p class="mt-1 text-sm text-slate-600">{s}</p> })}
            </div>
            {children.map(|c| view! { <div class="flex shrink-0 flex-wrap gap-2">{c()}</div> })}
        </div>
    }
}

/// A white panel with an optional heading.
#[component]
pub fn Card(#[prop(optional, into)] title: Option<String>, children: Children) -> impl IntoView {
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm sm:p-6">
            {title.map(|t| view! { <h2 class="mb-4 text-base font-semibold text-slate-900">{t}</h2> })}
            {children()}
        </section>
    }
}

/// A message box for the outcome of an action.
#[component]
pub fn Alert(#[prop(into)] kind: AlertKind, #[prop(into)] message: String) -> impl IntoView {
    let class = match kind {
        AlertKind::Error => "rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800",
        AlertKind::Success => "rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-800",
        AlertKind::Info => "rounded-md border border-sky-200 bg-sky-50 px-4 py-3 text-sm text-sky-800",
    };
    let role = if kind == AlertKind::Error { "alert" } else { "status" };
    view! { <div class=class role=role>{message}</div> }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    Error,
    Success,
    Info,
}

/// The error of a form's last submission that belongs to no particular field.
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error
            .get()
            .filter(|e| e.field().is_none())
            .map(|e| view! { <Alert kind=AlertKind::Error message=e.message()/> })
    }
}

/// A labelled input, with the error of its field (if the last submission had one) below it.
/// Without a `value`, it shows what was typed into it before a refused plain post.
#[component]
pub fn Field(
    #[prop(into)] label: String,
    #[prop(into)] name: String,
    #[prop(optional, into)] kind: Option<String>,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional, into)] placeholder: Option<String>,
    #[prop(optional, into)] autocomplete: Option<String>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional)] required: bool,
    #[prop(optional)] autofocus: bool,
    #[prop(optional, into)] error: Option<Signal<Option<AppError>>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let value = value.or_else(|| use_context::<crate::model::FormFlash>().and_then(|f| f.value(&name)));
    let field_name = name.clone();
    let field_error =
        move || error.and_then(|e| e.get()).filter(|e| e.field() == Some(field_name.as_str())).map(|e| e.message());
    let has_error = {
        let f = field_error.clone();
        move || f().is_some()
    };
    let error_id = format!("{id}-error");
    view! {
        <div>
            <label for=id.clone() class="mb-1 block text-sm font-medium text-slate-700">{label}</label>
            <input
                id=id
                name=name
                type=kind.unwrap_or_else(|| "text".into())
                value=value
                placeholder=placeholder
                autocomplete=autocomplete
                required=required
                autofocus=autofocus
                aria-invalid=move || has_error().then_some("true")
                aria-describedby=error_id.clone()
                class=INPUT
            />
            {hint.map(|h| view! { <p class="mt-1 text-xs text-slate-500">{h}</p> })}
            <p id=error_id class="mt-1 text-sm text-red-700" data-field-error="">
                {field_error}
            </p>
        </div>
    }
}

/// A friendly "nothing here yet" panel with what to do next.
#[component]
pub fn EmptyState(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <div class="rounded-lg border-2 border-dashed border-slate-300 bg-white px-6 py-10 text-center">
            <h3 class="text-base font-semibold text-slate-900">{title}</h3>
            <div class="mx-auto mt-2 max-w-xl text-sm text-slate-600">{children()}</div>
        </div>
    }
}

/// A shell command with a copy button. The text is selectable without JavaScript; the button
/// copies it once the page is hydrated.
#[component]
pub fn CopyLine(#[prop(into)] command: String) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    let text = command.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&text);
            set_copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (&text, set_copied);
        }
    };
    view! {
        <div class="flex items-stretch overflow-hidden rounded-md border border-slate-700 bg-slate-900 text-slate-100">
            <code class="min-w-0 flex-1 select-all overflow-x-auto whitespace-nowrap px-3 py-2 font-mono text-xs sm:text-sm" tabindex="0">
                {command}
            </code>
            <button
                type="button"
                on:click=copy
                class="shrink-0 border-l border-slate-700 px-3 text-xs font-medium text-slate-300 hover:bg-slate-800 hover:text-white"
                aria-label="Copy to clipboard"
            >
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
}

/// Shown while a page's data loads.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <div class="flex items-center gap-3 py-10 text-sm text-slate-500" role="status" aria-live="polite">
            <span class="h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-indigo-600"></span>
            "Loading…"
        </div>
    }
}

/// A submit button that shows progress while its action runs.
#[component]
pub fn Submit(
    #[prop(into)] label: String,
    #[prop(into)] busy_label: String,
    #[prop(optional, into)] pending: Option<Signal<bool>>,
) -> impl IntoView {
    let pending = move || pending.map(|p| p.get()).unwrap_or(false);
    view! {
        <button type="submit" class=BUTTON disabled=pending>
            {move || if pending() { busy_label.clone() } else { label.clone() }}
        </button>
    }
}

/// The error of an action's last call, including one handed back in the URL after a plain post.
pub fn action_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(|r| r.err()))
}

/// Whether an action's last call succeeded (for "saved" messages).
pub fn action_ok<S>(action: ServerAction<S>) -> Signal<bool>
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || matches!(action.value().get(), Some(Ok(_))))
}

/// A small coloured label.
#[component]
pub fn Badge(#[prop(into)] text: String, #[prop(into)] tone: Tone) -> impl IntoView {
    let class = match tone {
        Tone::Gray => "bg-slate-100 text-slate-700 ring-slate-300",
        Tone::Green => "bg-emerald-50 text-emerald-700 ring-emerald-600/30",
        Tone::Amber => "bg-amber-50 text-amber-800 ring-amber-600/30",
        Tone::Blue => "bg-sky-50 text-sky-700 ring-sky-600/30",
        Tone::Indigo => "bg-indigo-50 text-indigo-700 ring-indigo-600/30",
        Tone::Red => "bg-red-50 text-red-700 ring-red-600/30",
    };
    view! {
        <span class=format!("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {class}")>
            {text}
        </span>
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Gray,
    Green,
    Amber,
    Blue,
    Indigo,
    Red,
}

pub fn visibility_badge(v: crate::model::Visibility) -> impl IntoView {
    use crate::model::Visibility::*;
    let tone = match v {
        Public => Tone::Green,
        Protected => Tone::Blue,
        Private => Tone::Gray,
    };
    view! { <Badge text=v.as_str() tone/> }
}

pub fn role_badge(r: crate::model::TeamRole) -> impl IntoView {
    use crate::model::TeamRole::*;
    let tone = match r {
        Owner => Tone::Indigo,
        Contributor => Tone::Blue,
        Viewer => Tone::Gray,
    };
    view! { <Badge text=r.as_str() tone/> }
}

/// A table with the product's styling; `head` is the header row's cells.
#[component]
pub fn Table(
    head: Vec<&'static str>,
    /// Columns (by index) shown only from medium width up; their cells carry [`WIDE_ONLY`].
    #[prop(optional)]
    wide_only: Vec<usize>,
    children: Children,
) -> impl IntoView {
    view! {
        // Focusable, so a keyboard can scroll it; `scroll-hint` shades the side where columns hide.
        <div class="scroll-hint overflow-x-auto rounded-lg border border-slate-200 shadow-sm" tabindex="0">
            <table class="min-w-full divide-y divide-slate-200 text-sm">
                <thead class="bg-slate-50">
                    <tr>
                        {head
                            .into_iter()
                            .enumerate()
                            .map(|(i, h)| {
                                let hide = if wide_only.contains(&i) { WIDE_ONLY } else { "" };
                                view! { <th scope="col" class=format!("whitespace-nowrap px-4 py-3 text-left font-semibold text-slate-700 {hide}")>{h}</th> }
                            })
                            .collect_view()}
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">{children()}</tbody>
            </table>
        </div>
    }
}

pub const TD: &str = "whitespace-nowrap px-4 py-3 text-slate-700";
/// A table cell (or anything) shown only from medium width up.
pub const WIDE_ONLY: &str = "hidden md:table-cell";
pub const SELECT: &str = "rounded-md border border-slate-300 bg-white px-2 py-2 text-sm text-slate-900 shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";
pub const BUTTON_SMALL: &str = "inline-flex items-center rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-xs font-semibold text-slate-700 shadow-sm hover:bg-slate-50";
pub const BUTTON_DANGER: &str = "inline-flex items-center justify-center rounded-md bg-red-600 px-3 py-2 text-sm font-semibold text-white shadow-sm hover:bg-red-500";

/// A row of tabs: links to the pages of one thing, `(href, label, current)`.
#[component]
pub fn Tabs(label: &'static str, tabs: Vec<(String, &'static str, bool)>) -> impl IntoView {
    view! {
        // Wrapping, not scrolling: on a phone every tab stays in sight.
        <nav class="mb-6 flex flex-wrap gap-x-1 border-b border-slate-200" aria-label=label>
            {tabs.into_iter().map(|(href, label, current)| {
                let class = if current {
                    "whitespace-nowrap border-b-2 border-indigo-600 px-3 py-2 text-sm font-semibold text-indigo-700"
                } else {
                    "whitespace-nowrap border-b-2 border-transparent px-3 py-2 text-sm font-medium text-slate-600 hover:text-slate-900"
                };
                view! { <a href=href class=class aria-current=current.then_some("page")>{label}</a> }
            }).collect_view()}
        </nav>
    }
}

/// A destructive action behind a confirmation step. It is a `<details>`, so the question
/// opens without JavaScript; the form inside does the deed. The question opens under the
/// button, towards the page's middle: leftwards from a button at a row's end, rightwards from
/// one at a card's start (`start`); on a phone, across the screen. A `calm` one (it restores,
/// it does not destroy) is not red.
#[component]
pub fn Confirm(
    #[prop(into)] label: String,
    #[prop(into)] question: String,
    #[prop(optional)] start: bool,
    #[prop(optional)] calm: bool,
    children: Children,
) -> impl IntoView {
    let place = if start { CONFIRM_START } else { CONFIRM_END };
    let look = if calm { BUTTON_SMALL } else { CONFIRM_DANGER };
    view! {
        <details class="group relative inline-block">
            <summary class=format!("{look} cursor-pointer list-none")>{label}</summary>
            <div class=place>
                <p class="mb-3 whitespace-normal">{question}</p>
                {children()}
            </div>
        </details>
    }
}

const CONFIRM_DANGER: &str = "inline-flex items-center rounded-md border border-red-200 bg-white px-2.5 py-1.5 \
     text-xs font-semibold text-red-700 shadow-sm hover:bg-red-50";
const CONFIRM_END: &str =
    "z-20 mt-2 w-72 rounded-md border border-slate-200 bg-white p-4 text-left text-sm text-slate-700 shadow-lg \
     max-sm:fixed max-sm:inset-x-4 max-sm:top-24 max-sm:w-auto sm:absolute sm:right-0";
const CONFIRM_START: &str =
    "z-20 mt-2 w-72 rounded-md border border-slate-200 bg-white p-4 text-left text-sm text-slate-700 shadow-lg \
     max-sm:fixed max-sm:inset-x-4 max-sm:top-24 max-sm:w-auto sm:absolute sm:left-0";

/// A destructive action behind [`Confirm`]: `label` opens `question`, and `yes` posts
/// `action` with the form's hidden `children` (a `calm` one restores, and is not red).
#[component]
pub fn ConfirmAction<S, O: 'static>(
    action: ServerAction<S>,
    #[prop(into)] label: String,
    #[prop(into)] question: String,
    yes: &'static str,
    #[prop(optional)] start: bool,
    #[prop(optional)] calm: bool,
    children: Children,
) -> impl IntoView
where
    S: serde::de::DeserializeOwned + ServerFn<Protocol = Http<PostUrl, O>> + Clone + Send + Sync + 'static,
    <<S::Client as Client<S::Error>>::Request as ClientReq<S::Error>>::FormData: From<leptos::web_sys::FormData>,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
    S::Client: Client<S::Error>,
{
    view! {
        <Confirm label question start calm>
            <ActionForm action>
                {children()}
                <button type="submit" class=if calm { BUTTON } else { BUTTON_DANGER }>{yes}</button>
            </ActionForm>
        </Confirm>
    }
}

/// An action whose answer is only "done" or an error, made by a [`PostForm`]: the light
/// sibling of `ServerAction` + `ActionForm`. Those make, for each server function, the code
/// that reads the form into its arguments, sends them and reads its answer, and a page's
/// first load carries it; a `Post` sends the form as it is to the function's URL (what the
/// browser posts without JavaScript), so every `Post` shares one small piece of code.
#[derive(Clone, Copy)]
pub struct Post {
    path: &'static str,
    done: RwSignal<usize>,
    pending: RwSignal<bool>,
    error: RwSignal<Option<AppError>>,
}

impl Post {
    pub fn new<S: ServerFn>() -> Self {
        // A plain post's error comes back in the page's URL (see api::form).
        let error = use_context::<leptos::server::ServerActionError>()
            .filter(|e| e.path() == S::PATH)
            .map(|e| leptos::server_fn::error::ServerFnUrlError::<AppError>::decode_err(e.err()));
        Post { path: S::PATH, done: RwSignal::new(0), pending: RwSignal::new(false), error: RwSignal::new(error) }
    }

    /// How many times it succeeded: a resource that reads this loads again after each.
    pub fn version(&self) -> usize {
        self.done.get()
    }

    pub fn error(&self) -> Signal<Option<AppError>> {
        self.error.into()
    }

    pub fn pending(&self) -> Signal<bool> {
        self.pending.into()
    }

    /// Posts `form` as the browser would, asking for the server function's JSON answer: an
    /// error status carries the error; a redirect (header) goes on to the next page.
    #[cfg(feature = "hydrate")]
    async fn send(self, form: leptos::web_sys::HtmlFormElement) -> Result<(), AppError> {
        use leptos::server_fn::error::FromServerFnError;
        use leptos::wasm_bindgen::JsCast;
        let failed = |e: String| AppError::Transport(e);
        let data = leptos::web_sys::FormData::new_with_form(&form).map_err(|e| failed(format!("{e:?}")))?;
        let body = leptos::web_sys::UrlSearchParams::new_with_str_sequence_sequence(data.unchecked_ref())
            .map_err(|e| failed(format!("{e:?}")))?;
        let res = gloo_net::http::Request::post(self.path)
            .header("Accept", "application/json")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(String::from(body.to_string()))
            .map_err(|e| failed(e.to_string()))?
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if res.status() >= 400 {
            let body = res.binary().await.map_err(|e| failed(e.to_string()))?;
            return Err(AppError::de(body.into()));
        }
        if let Some(to) =
            res.headers().get(leptos::server_fn::redirect::REDIRECT_HEADER).and(res.headers().get("Location"))
        {
            leptos::server_fn::redirect::call_redirect_hook(&to);
        }
        Ok(())
    }
}

/// A real form posting to `post`'s server function: before hydration (or without JavaScript)
/// the browser posts it and the server answers with the next page; after, it is sent in place.
#[component]
pub fn PostForm(post: Post, children: Children) -> impl IntoView {
    let submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use leptos::wasm_bindgen::JsCast;
            ev.prevent_default();
            let Some(form) = ev.target().and_then(|t| t.dyn_into::<leptos::web_sys::HtmlFormElement>().ok()) else {
                return;
            };
            post.pending.set(true);
            leptos::task::spawn_local(async move {
                let result = post.send(form).await;
                post.pending.set(false);
                match result {
                    Ok(()) => {
                        post.error.set(None);
                        post.done.update(|n| *n += 1);
                    }
                    Err(e) => post.error.set(Some(e)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, post);
    };
    view! { <form method="post" action=post.path on:submit=submit>{children()}</form> }
}

/// A destructive [`Post`] behind [`Confirm`], as [`ConfirmAction`] is for a `ServerAction`.
#[component]
pub fn ConfirmPost(
    post: Post,
    #[prop(into)] label: String,
    #[prop(into)] question: String,
    yes: &'static str,
    #[prop(optional)] start: bool,
    children: Children,
) -> impl IntoView {
    view! {
        <Confirm label question start>
            <PostForm post>
                {children()}
                <button type="submit" class=BUTTON_DANGER disabled=post.pending()>{yes}</button>
            </PostForm>
        </Confirm>
    }
}

/// Previous / next links for a paged list; `href(page)` builds each link.
#[component]
pub fn Pagination(page: u32, pages: u32, total: u64, href: impl Fn(u32) -> String + 'static) -> impl IntoView {
    let prev = (page > 1).then(|| href(page - 1));
    let next = (page < pages).then(|| href(page + 1));
    view! { <PrevNext label=format!("Page {page} of {pages} · {total} in all") prev next/> }
}

/// A page's place (`label`) and the links to the pages before and after it, greyed out where
/// there is none.
#[component]
pub fn PrevNext(label: String, prev: Option<String>, next: Option<String>) -> impl IntoView {
    view! {
        <nav class="mt-4 flex items-center justify-between text-sm text-slate-600" aria-label="Pagination">
            <span>{label}</span>
            <span class="flex gap-2">
                {pager_link(prev, "prev", "← Previous")}
                {pager_link(next, "next", "Next →")}
            </span>
        </nav>
    }
}

/// Links through a [`crate::model::Feed`]: back to the newest, and on to older entries.
#[component]
pub fn FeedPager(newest: Option<String>, older: Option<String>) -> impl IntoView {
    view! {
        <nav class="mt-4 flex items-center justify-end gap-2 text-sm" aria-label="Pagination">
            {pager_link(newest, "first", "← Newest")}
            {pager_link(older, "next", "Older →")}
        </nav>
    }
}

/// A link of a pager, greyed out (a link without a target, marked disabled) where there is
/// nowhere to go.
fn pager_link(href: Option<String>, rel: &'static str, label: &'static str) -> impl IntoView {
    let class = if href.is_some() { BUTTON_SMALL.to_string() } else { format!("{BUTTON_SMALL} opacity-40") };
    let (rel, disabled) = (href.is_some().then_some(rel), href.is_none().then_some("true"));
    view! { <a class=class href=href rel=rel aria-disabled=disabled>{label}</a> }
}

/// A page-level error: sets the status code on the server (404 for unknown things).
#[component]
pub fn ErrorPage(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(
            axum::http::StatusCode::from_u16(error.status()).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        );
    }
    let title = match error.status() {
        404 => "Not found",
        403 => "Not allowed",
        401 => "Please sign in",
        _ => "Something went wrong",
    };
    // A visitor who is not signed in may be missing something private: offer to sign in, and
    // come back here after it. (The session was read before the page was.)
    let visitor = matches!(error.status(), 401 | 403 | 404)
        && matches!(super::use_session().user.get_untracked(), Some(Ok(None)));
    let sign_in = visitor.then(|| {
        let location = leptos_router::hooks::use_location();
        let (path, query) = (location.pathname.get_untracked(), location.search.get_untracked());
        let query = query.trim_start_matches('?');
        let here = if query.is_empty() { path } else { format!("{path}?{query}") };
        view! {
            <p class="mt-3 text-slate-600">"If it is private, sign in to see it."</p>
            <a href=format!("/login?next={}", escape_next(&here)) class=format!("mt-6 mr-2 {BUTTON}")>"Sign in"</a>
        }
    });
    let back = if visitor { BUTTON_SECONDARY } else { BUTTON };
    view! {
        <leptos_meta::Title text=title/>
        <div class="mx-auto max-w-lg py-16 text-center">
            <p class="text-sm font-semibold text-indigo-600">{error.status()}</p>
            <h1 class="mt-2 text-3xl font-bold tracking-tight text-slate-900">{title}</h1>
            <p class="mt-3 text-slate-600">{error.message()}</p>
            {sign_in}
            <a href="/" class=format!("mt-6 {back}")>"Back to the dashboard"</a>
        </div>
    }
}

/// An address within the site as a query value: what is not a path's plain character is
/// percent-encoded (smaller, in every page's code, than the general encoder).
fn escape_next(here: &str) -> String {
    here.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A count and its noun: `1 tag`, `3 tags`.
pub fn count_of(n: impl Into<i64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// Relative age of a time, e.g. "3 days ago", computed from `now`.
pub fn ago(t: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (chrono::Utc::now() - t).num_seconds().max(0);
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        86_400..=2_591_999 => format!("{} days ago", secs / 86_400),
        _ => utc_date(t),
    }
}

// Times are written out by hand: chrono's format strings would link its formatter into every
// page's code.

/// `2026-12-02`.
pub fn utc_date(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Datelike;
    format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
}

/// `2026-12-02 20:30 UTC`.
pub fn utc_minute(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    format!("{} {:02}:{:02} UTC", utc_date(t), t.hour(), t.minute())
}

/// `2026-12-02T20:30:05Z`, as `<time datetime>` takes it.
fn utc_machine(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    format!("{}T{:02}:{:02}:{:02}Z", utc_date(t), t.hour(), t.minute(), t.second())
}

/// A time as a `<time>` element with the exact time in its tooltip.
pub fn time_view(t: chrono::DateTime<chrono::Utc>) -> impl IntoView {
    view! { <time datetime=utc_machine(t) title=utc_minute(t)>{ago(t)}</time> }
}

/// Shows `page` of a resource's value once it has loaded, or the error page if loading failed.
pub fn loaded<T, V, F>(resource: Resource<Result<T, AppError>>, page: F) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    awaited(resource, page, |e| view! { <ErrorPage error=e/> }.into_any())
}

/// The same for one part of a page (a card, a section): an error is an alert in its place,
/// and the rest of the page stays.
pub fn loaded_part<T, V, F>(resource: Resource<Result<T, AppError>>, part: F) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    awaited(resource, part, |e| view! { <Alert kind=AlertKind::Error message=e.message()/> }.into_any())
}

fn awaited<T, V, F>(resource: Resource<Result<T, AppError>>, page: F, failed: fn(AppError) -> AnyView) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=Loading>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match resource.await {
                        Err(e) => failed(e),
                        Ok(value) => page(value).into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// A just-created token's secret: the action's answer after a hydrated call, or what the
/// session kept for this page load after a plain form post.
pub fn new_secret<S>(
    action: ServerAction<S>,
    flashed: Resource<Result<Option<crate::model::CreatedToken>, AppError>>,
) -> Signal<Option<crate::model::CreatedToken>>
where
    S: leptos::server_fn::ServerFn<Output = crate::model::CreatedToken, Error = AppError>
        + Clone
        + Send
        + Sync
        + 'static,
{
    Signal::derive(move || match action.value().get() {
        Some(Ok(c)) => Some(c),
        _ => flashed.get().and_then(|r| r.ok()).flatten(),
    })
}

/// Shows a just-created token's secret, once.
#[component]
pub fn NewSecret(secret: Signal<Option<crate::model::CreatedToken>>) -> impl IntoView {
    let site = crate::ui::use_session().site;
    view! {
        <Transition fallback=|| ()>
            {move || secret.get().map(|c| view! {
                <div class="mb-4 space-y-2 rounded-md border border-emerald-200 bg-emerald-50 p-4" data-testid="new-token">
                    <p class="text-sm font-semibold text-emerald-900">
                        {format!("Token \"{}\" created. Copy it now: it will not be shown again.", c.token.name)}
                    </p>
                    <CopyLine command=c.secret.clone()/>
                    {(!c.username.is_empty()).then(|| {
                        let registry = site.get().and_then(|s| s.ok()).map(|s| s.registry_host).unwrap_or_default();
                        view! {
                            <CopyLine command=format!("echo '{}' | docker login {registry} -u {} --password-stdin", c.secret, c.username)/>
                        }
                    })}
                </div>
            })}
        </Transition>
    }
}

/// A positive number from the query string (`page=3`), 1 when missing or malformed.
pub fn page_number(query: &leptos_router::params::ParamsMap, key: &str) -> u32 {
    query.get(key).and_then(|p| p.parse::<u32>().ok()).unwrap_or(1).max(1)
}

/// Pagination under a list, shown only when there is more than one page.
pub fn pager<T>(page: &crate::model::Page<T>, href: impl Fn(u32) -> String + Send + Sync + 'static) -> impl IntoView {
    let (n, pages, total) = (page.page, page.pages(), page.total);
    (pages > 1).then(move || view! { <Pagination page=n pages total href/> })
}
