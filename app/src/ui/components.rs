//! Small building blocks every page uses: page headers, cards, form fields with their
//! error, alerts, empty states and copyable commands.

use leptos::prelude::*;

use crate::error::AppError;

/// Tailwind classes shared by inputs and buttons, so every form looks the same.
pub const INPUT: &str = "block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm text-slate-900 \
     shadow-sm placeholder:text-slate-400 focus:border-indigo-500 focus:outline-none focus:ring-2 \
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
    #[prop(optional, into)] error: Option<Signal<Option<AppError>>>,
) -> impl IntoView {
    let id = format!("field-{name}");
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
            <code class="min-w-0 flex-1 select-all overflow-x-auto whitespace-nowrap px-3 py-2 font-mono text-xs sm:text-sm">
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
