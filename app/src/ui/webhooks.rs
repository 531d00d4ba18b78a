//! Webhooks: a namespace's (on its page, for its owners) and the site-wide ones (Admin →
//! Webhooks), each with its delivery log, a test event and redelivery.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::components::*;
use super::signed_in;
use crate::api::webhooks::{
    get_webhook, list_namespace_webhooks, list_webhooks, CreateWebhook, DeleteWebhook, Redeliver, SetWebhookEnabled,
    TestWebhook, UpdateWebhook, WebhookPageData,
};
use crate::error::AppError;
use crate::model::{WebhookDelivery, WebhookView};

/// A delivery's state as a badge: delivered (with the status), waiting for a retry, failed.
fn delivery_badge(d: &WebhookDelivery) -> impl IntoView {
    let status = d.last_status.map(|s| format!(" {s}")).unwrap_or_default();
    match d.state.as_str() {
        "delivered" => view! { <Badge text=format!("delivered{status}") tone=Tone::Green/> }.into_any(),
        "failed" => view! { <Badge text=format!("failed{status}") tone=Tone::Red/> }.into_any(),
        _ if d.attempts > 0 => view! { <Badge text=format!("retrying{status}") tone=Tone::Amber/> }.into_any(),
        _ => view! { <Badge text="queued" tone=Tone::Gray/> }.into_any(),
    }
}

/// Every namespace's webhooks, for administrators: what fails is flagged and comes first,
/// so a namespace webhook that keeps failing is seen without visiting each namespace.
#[component]
pub fn NamespaceWebhooksCard() -> impl IntoView {
    let hooks = Resource::new(|| (), |_| list_namespace_webhooks());
    view! {
        <section id="namespace-webhooks" class="mt-6 rounded-lg border border-slate-200 bg-white p-5 shadow-sm sm:p-6">
            <h2 class="text-base font-semibold text-slate-900">"Namespaces' webhooks"</h2>
            {loaded_part(hooks, move |list: Vec<WebhookView>| {
                if list.is_empty() {
                    return view! { <p class="mt-1 text-sm text-slate-600">"No namespace has a webhook."</p> }.into_any();
                }
                let failing = list.iter().filter(|w| w.last_delivery.as_ref().is_some_and(WebhookDelivery::is_failing)).count();
                view! {
                    <p class="mb-4 mt-1 text-sm text-slate-600">
                        {format!("{} in all. ", list.len())}
                        {if failing == 0 {
                            view! { <span>"None is failing."</span> }.into_any()
                        } else {
                            view! { <span class="font-semibold text-red-700">{format!("{failing} failing: their newest delivery did not arrive.")}</span> }.into_any()
                        }}
                    </p>
                    <Table head=vec!["Webhook", "Namespace", "Last delivery"]>
                        {list.into_iter().map(|w| {
                            let failing = w.last_delivery.as_ref().is_some_and(WebhookDelivery::is_failing);
                            let ns = w.namespace.clone().unwrap_or_default();
                            view! {
                                <tr data-webhook=w.name.clone() data-failing=failing.then_some("")>
                                    <td class=TD>{webhook_name(&w)}</td>
                                    <td class=TD><a class=LINK href=format!("/namespaces/{ns}?tab=webhooks")>{ns.clone()}</a></td>
                                    <td class=TD>
                                        {last_delivery(&w)}
                                        {failing.then(|| w.last_delivery.as_ref().and_then(|d| d.last_error.clone())).flatten().map(|e| view! {
                                            <p class="max-w-xs whitespace-normal text-xs text-red-700">{e}</p>
                                        })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </Table>
                }.into_any()
            })}
        </section>
    }
}

/// A webhook in a list: its name (to its page), whether it is off, and its URL.
fn webhook_name(w: &WebhookView) -> impl IntoView {
    view! {
        <a class=LINK href=format!("/webhooks/{}", w.id)>{w.name.clone()}</a>
        {(!w.enabled).then(|| view! { <span class="ml-2"><Badge text="off" tone=Tone::Gray/></span> })}
        <p class="max-w-[14rem] truncate font-mono text-xs text-slate-500" title=w.url.clone()>{w.url.clone()}</p>
    }
}

/// A webhook's newest delivery: how it went and when, or that there is none.
fn last_delivery(w: &WebhookView) -> impl IntoView {
    match &w.last_delivery {
        Some(d) => view! { <span>{delivery_badge(d)} " " {time_view(d.created_at)}</span> }.into_any(),
        None => view! { <span class="text-sm text-slate-500">"none yet"</span> }.into_any(),
    }
}

/// A delivery in full, behind a disclosure: the receiver's status and answer (or why it was
/// not reached), when it is tried next, and the event as sent.
fn delivery_details(d: &WebhookDelivery) -> impl IntoView {
    let next = (d.state == "pending").then(|| utc_minute(d.next_attempt_at));
    let payload = serde_json::to_string_pretty(&d.payload).unwrap_or_default();
    view! {
        <details class="mt-1 text-xs" data-delivery-details="">
            <summary class="cursor-pointer text-indigo-700">"Details"</summary>
            <dl class="mt-2 w-80 max-w-[80vw] space-y-2 whitespace-normal text-slate-700">
                {d.last_status.map(|s| view! { <div><dt class="font-medium">"Status"</dt><dd>{s}</dd></div> })}
                {d.last_error.clone().map(|e| view! { <div><dt class="font-medium">"Error"</dt><dd class="break-words text-red-700">{e}</dd></div> })}
                {d.response_body.clone().filter(|b| !b.is_empty()).map(|b| view! {
                    <div><dt class="font-medium">"Answer"</dt><dd><pre class="max-h-40 overflow-auto whitespace-pre-wrap break-all rounded bg-slate-50 p-2" tabindex="0">{b}</pre></dd></div>
                })}
                {next.map(|t| view! { <div><dt class="font-medium">"Next try"</dt><dd>{t}</dd></div> })}
                <div><dt class="font-medium">"Payload"</dt><dd><pre class="max-h-60 overflow-auto rounded bg-slate-900 p-2 text-slate-100" tabindex="0">{payload}</pre></dd></div>
            </dl>
        </details>
    }
}

/// What the webhooks card reads and does, made at the top of its page before anything is
/// awaited (see `super::cleanup::Cleanup` for why).
#[derive(Clone, Copy)]
pub struct Webhooks {
    create: ServerAction<CreateWebhook>,
    delete: ServerAction<DeleteWebhook>,
    hooks: Resource<Result<Vec<WebhookView>, AppError>>,
}

impl Webhooks {
    /// `namespace`: a namespace's webhooks (`Some`), or the site's (`None`).
    pub fn new(namespace: impl Fn() -> Option<String> + Copy + Send + Sync + 'static) -> Self {
        let create = ServerAction::<CreateWebhook>::new();
        let delete = ServerAction::<DeleteWebhook>::new();
        let hooks = Resource::new(
            move || (namespace(), create.version().get(), delete.version().get()),
            |(ns, ..)| list_webhooks(ns),
        );
        Webhooks { create, delete, hooks }
    }
}

/// The webhooks of a namespace (`Some`) or of the whole site (`None`): list and create.
#[component]
pub fn WebhooksCard(state: Webhooks, namespace: Option<String>) -> impl IntoView {
    let Webhooks { create, delete, hooks } = state;
    let create_error = action_error(create);
    let delete_error = action_error(delete);
    let ns_field = namespace.clone().unwrap_or_default();
    let scope = match &namespace {
        Some(ns) => format!("images pushed to, deleted from or pulled from {ns}"),
        None => "every namespace's images".to_string(),
    };
    let list_ns = namespace.clone().unwrap_or_default();
    view! {
        <section id="webhooks" class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm sm:p-6">
            <h2 class="text-base font-semibold text-slate-900">{if namespace.is_some() { "Webhooks" } else { "Site-wide webhooks" }}</h2>
            <p class="mb-4 mt-1 text-sm text-slate-600">
                {format!("Tell other systems (CI, chat) about {scope}. Each delivery is signed: ")}
                <code class="rounded bg-slate-100 px-1 text-xs">"X-Portcullis-Signature: t=…,v1=HMAC-SHA256(secret, t.body)"</code>
            </p>
            <div class="mb-3"><FormError error=delete_error/></div>
            {loaded_part(hooks, move |list: Vec<WebhookView>| {
                if list.is_empty() {
                    return view! {
                        <EmptyState title="No webhooks yet"><p>"Add one below: a URL, the events it wants, and a secret to sign with."</p></EmptyState>
                    }.into_any();
                }
                let ns = list_ns.clone();
                view! {
                    <Table head=vec!["Webhook", "Last delivery", ""] wide_only=vec![1]>
                        {list.into_iter().map(|w| {
                            let ns = ns.clone();
                            view! {
                                <tr data-webhook=w.name.clone()>
                                    <td class=TD>
                                        {webhook_name(&w)}
                                        <p class="text-xs text-slate-500">{format!("{} · {}", w.events.join(", "), w.format)}</p>
                                        // At phone width the last delivery folds in here.
                                        <p class="mt-1 md:hidden">{w.last_delivery.as_ref().map(delivery_badge)}</p>
                                    </td>
                                    <td class=format!("{TD} {WIDE_ONLY}")>{last_delivery(&w)}</td>
                                    <td class=format!("{TD} text-right")>
                                        <ConfirmAction action=delete label="Delete…" question=format!("Delete webhook {}? Its delivery log goes with it.", w.name) yes="Yes, delete">
                                            <input type="hidden" name="id" value=w.id/>
                                            <input type="hidden" name="namespace" value=ns/>
                                        </ConfirmAction>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </Table>
                }.into_any()
            })}
            <details class="mt-4">
                <summary class="cursor-pointer text-sm font-medium text-indigo-700">"Add a webhook"</summary>
                <ActionForm action=create attr:class="mt-4 grid gap-4 sm:grid-cols-2">
                    <div class="sm:col-span-2"><FormError error=create_error/></div>
                    <input type="hidden" name="namespace" value=ns_field/>
                    <Field label="Name" name="name" required=true error=create_error placeholder="ci"/>
                    <Field label="URL" name="url" kind="url" required=true error=create_error placeholder="https://ci.example.com/hooks/registry"/>
                    <fieldset class="space-y-1 text-sm">
                        <legend class="mb-1 font-medium text-slate-700">"Events"</legend>
                        <label class="flex items-center gap-2"><input type="checkbox" name="push" value="on" checked=true/>"Push"</label>
                        <label class="flex items-center gap-2"><input type="checkbox" name="delete" value="on" checked=true/>"Delete"</label>
                        <label class="flex items-center gap-2"><input type="checkbox" name="pull" value="on"/>"Pull"</label>
                        <label class="flex items-center gap-2"><input type="checkbox" name="cleanup" value="on"/>"Cleanup runs"</label>
                        <label class="flex items-center gap-2"><input type="checkbox" name="quota" value="on"/>"Storage quota warnings"</label>
                    </fieldset>
                    <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Payload"</span>
                        <select name="format" class=SELECT>
                            <option value="portcullis" selected=true>"JSON (close to Harbor's)"</option>
                            <option value="cloudevents">"CloudEvents 1.0"</option>
                        </select></label>
                    <Field label="Secret" name="secret" kind="password" required=true error=create_error autocomplete="new-password"
                        hint="16 characters or more; the receiver checks signatures with it. Never shown again."/>
                    <div class="grid grid-cols-2 gap-2">
                        <Field label="Header (optional)" name="header_name" error=create_error placeholder="Authorization"/>
                        <Field label="Value" name="header_value" kind="password" error=create_error autocomplete="off"/>
                    </div>
                    <div class="sm:col-span-2"><Submit label="Add webhook" busy_label="Adding…" pending=create.pending()/></div>
                </ActionForm>
            </details>
        </section>
    }
    .into_any()
}

/// One webhook: what it is, turn it on or off, send a test, and its deliveries.
#[component]
pub fn WebhookPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|i| i.parse::<i64>().ok()).unwrap_or(0));
    let test = ServerAction::<TestWebhook>::new();
    let again = ServerAction::<Redeliver>::new();
    let enable = ServerAction::<SetWebhookEnabled>::new();
    let edit = ServerAction::<UpdateWebhook>::new();
    let data = Resource::new(
        move || (id.get(), test.version().get(), again.version().get(), enable.version().get(), edit.version().get()),
        |(id, ..)| get_webhook(id),
    );
    signed_in(move |_| loaded(data, move |d| view! { <WebhookView d test again enable edit/> }))
}

#[component]
fn WebhookView(
    d: WebhookPageData,
    test: ServerAction<TestWebhook>,
    again: ServerAction<Redeliver>,
    enable: ServerAction<SetWebhookEnabled>,
    edit: ServerAction<UpdateWebhook>,
) -> impl IntoView {
    let w = d.webhook;
    let edit_error = action_error(edit);
    let has = |e: &str| w.events.iter().any(|x| x == e);
    let event_box = |name: &'static str, label: &'static str, on: bool| {
        view! { <label class="flex items-center gap-2"><input type="checkbox" name=name value="on" checked=on/>{label}</label> }
    };
    let boxes = [
        event_box("push", "Push", has("push")),
        event_box("delete", "Delete", has("delete")),
        event_box("pull", "Pull", has("pull")),
        event_box("cleanup", "Cleanup runs", has("cleanup")),
        event_box("quota", "Storage quota warnings", has("quota")),
    ];
    let (cloudevents, name_now, url_now) = (w.format == "cloudevents", w.name.clone(), w.url.clone());
    let open = edit_error.get_untracked().is_some();
    let editor = view! {
        <details class="mb-6" open=open>
            <summary class="cursor-pointer text-sm font-medium text-indigo-700">"Edit…"</summary>
            <ActionForm action=edit attr:class="mt-4 grid max-w-3xl gap-4 sm:grid-cols-2">
                <div class="sm:col-span-2"><FormError error=edit_error/></div>
                <input type="hidden" name="id" value=w.id/>
                <Field label="Name" name="name" value=name_now required=true error=edit_error/>
                <Field label="URL" name="url" kind="url" value=url_now required=true error=edit_error/>
                <fieldset class="space-y-1 text-sm">
                    <legend class="mb-1 font-medium text-slate-700">"Events"</legend>
                    {boxes.into_iter().collect_view()}
                </fieldset>
                <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Payload"</span>
                    <select name="format" class=SELECT>
                        <option value="portcullis" selected=!cloudevents>"JSON (close to Harbor's)"</option>
                        <option value="cloudevents" selected=cloudevents>"CloudEvents 1.0"</option>
                    </select></label>
                <Field label="New secret" name="secret" kind="password" error=edit_error autocomplete="new-password"
                    hint="Leave empty to keep the current one; 16 characters or more."/>
                <div class="sm:col-span-2"><Submit label="Save changes" busy_label="Saving…" pending=edit.pending()/></div>
            </ActionForm>
        </details>
    };
    let back = match &w.namespace {
        Some(ns) => (format!("/namespaces/{ns}?tab=webhooks"), format!("← webhooks of {ns}")),
        None => ("/admin/webhooks".to_string(), "← site-wide webhooks".to_string()),
    };
    let error = Signal::derive(move || {
        action_error(test).get().or_else(|| action_error(again).get()).or_else(|| action_error(enable).get())
    });
    let id = w.id;
    let rows = d
        .deliveries
        .into_iter()
        .map(|del| {
            let answer = del.last_error.clone().or(del.response_body.clone()).unwrap_or_default();
            let whole = answer.clone();
            let details = delivery_details(&del);
            view! {
                <tr data-delivery=del.id class="align-top">
                    <td class=TD>{time_view(del.created_at)}</td>
                    <td class=TD>{del.event.clone()}</td>
                    <td class=TD>{delivery_badge(&del)} {details}</td>
                    <td class=format!("{TD} {WIDE_ONLY}")>{del.attempts}</td>
                    <td class=format!("{TD} {WIDE_ONLY}")>{del.response_ms.map(|ms| format!("{ms} ms"))}</td>
                    <td class=format!("{TD} {WIDE_ONLY}")><code class="block max-w-xs truncate text-xs" title=whole>{answer}</code></td>
                    <td class=format!("{TD} text-right")>
                        <ActionForm action=again>
                            <input type="hidden" name="id" value=del.id/>
                            <input type="hidden" name="webhook" value=id/>
                            <button type="submit" class=BUTTON_SECONDARY>"Redeliver"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let empty = rows.is_empty();
    view! {
        <Title text=format!("Webhook {}", w.name)/>
        <PageHeader title=w.name.clone() subtitle=w.url.clone()>
            {(!w.enabled).then(|| view! { <Badge text="off" tone=Tone::Gray/> })}
        </PageHeader>
        <p class="-mt-4 mb-6 text-sm"><a class=LINK href=back.0>{back.1}</a></p>
        <div class="mb-4"><FormError error/></div>
        <div class="mb-6 flex flex-wrap items-center gap-3 text-sm text-slate-600">
            <span>{format!("Events: {} · payload: {}", w.events.join(", "), w.format)}</span>
            {(!w.header_names.is_empty()).then(|| view! { <span>{format!("· headers: {}", w.header_names.join(", "))}</span> })}
            <ActionForm action=test>
                <input type="hidden" name="id" value=id/>
                <button type="submit" class=BUTTON_SECONDARY>"Send a test event"</button>
            </ActionForm>
            <ActionForm action=enable>
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="enabled" value=(!w.enabled).to_string()/>
                <button type="submit" class=BUTTON_SECONDARY>{if w.enabled { "Turn off" } else { "Turn on" }}</button>
            </ActionForm>
        </div>
        {editor}
        <h2 class="mb-3 text-base font-semibold text-slate-900">"Deliveries"</h2>
        {if empty {
            view! { <EmptyState title="Nothing delivered yet"><p>"Send a test event, or push an image."</p></EmptyState> }.into_any()
        } else {
            view! {
                <Table head=vec!["When", "Event", "State", "Attempts", "Time", "Answer", ""] wide_only=vec![3, 4, 5]>{rows}</Table>
            }.into_any()
        }}
    }
}
