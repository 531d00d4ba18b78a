//! Admin → Settings: the site's access rules (push policy, deletes, what users may create).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{admin_only, AdminHeader};
use crate::api::admin::{get_default_quota, get_read_only, get_settings, SetDefaultQuota, SetReadOnly, UpdateSettings};
use crate::model::{human_size, PushPolicy};
use crate::ui::components::*;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let save = ServerAction::<UpdateSettings>::new();
    let error = action_error(save);
    let query = use_query_map();
    let saved =
        Signal::derive(move || action_ok(save).get() || (query.read().get("saved").is_some() && error.get().is_none()));
    let settings = Resource::new(move || save.version().get(), |_| get_settings());
    admin_only(move |_| {
        view! {
            <AdminHeader current="/admin/settings"/>
            {loaded(settings, move |s| {
                let check = |name: &'static str, label: &'static str, on: bool| view! {
                    <label class="flex items-start gap-2 text-sm">
                        <input type="checkbox" name=name value="true" checked=on class="mt-0.5"/>
                        <span>{label}</span>
                    </label>
                };
                view! {
                    <Card title="Access settings">
                        <ActionForm action=save attr:class="max-w-xl space-y-5">
                            {move || saved.get().then(|| view! { <Alert kind=AlertKind::Success message="Settings saved."/> })}
                            <FormError error/>
                            <fieldset>
                                <legend class="mb-2 text-sm font-medium text-slate-700">"Who may push"</legend>
                                {PushPolicy::ALL.into_iter().map(|p| {
                                    let text = match p {
                                        PushPolicy::AllowTeams => "Owners and contributors of a namespace's team",
                                        PushPolicy::AllowPersonal => "Users only to their personal namespace",
                                        PushPolicy::AdminOnly => "Administrators only",
                                    };
                                    view! {
                                        <label class="flex items-start gap-2 text-sm">
                                            <input type="radio" name="push_policy" value=p.as_str() checked=p == s.push_policy class="mt-0.5"/>
                                            <span>{text}</span>
                                        </label>
                                    }
                                }).collect_view()}
                                <p class="mt-1 text-xs text-slate-500">"Administrators may always push."</p>
                            </fieldset>
                            <fieldset class="space-y-2">
                                <legend class="mb-2 text-sm font-medium text-slate-700">"Deleting images"</legend>
                                {check("delete_enabled", "Images may be deleted (by team owners and administrators)", s.delete_enabled)}
                                {check("contributors_may_delete", "Contributors may delete too", s.contributors_may_delete)}
                            </fieldset>
                            <fieldset class="space-y-2">
                                <legend class="mb-2 text-sm font-medium text-slate-700">"What users may do"</legend>
                                {check("users_may_create_teams", "Create teams", s.users_may_create_teams)}
                                {check("users_may_create_namespaces", "Create namespaces for their teams", s.users_may_create_namespaces)}
                                {check("users_may_change_visibility", "Change the visibility of their teams' namespaces (owners)", s.users_may_change_visibility)}
                            </fieldset>
                            <Submit label="Save settings" busy_label="Saving…" pending=save.pending()/>
                        </ActionForm>
                    </Card>
                }
            })}
            <ReadOnlyCard/>
            <DefaultQuotaCard/>
        }
    })
}

/// Read-only mode: the window for the registry's garbage collection.
#[component]
fn ReadOnlyCard() -> impl IntoView {
    let set = ServerAction::<SetReadOnly>::new();
    let error = action_error(set);
    let query = use_query_map();
    let saved = Signal::derive(move || {
        action_ok(set).get() || (query.read().get("read_only").is_some() && error.get().is_none())
    });
    let mode = Resource::new(move || set.version().get(), |_| get_read_only());
    // The banner every page shows follows at once.
    let site = crate::ui::use_session().site;
    Effect::new(move |_| {
        if set.version().get() > 0 {
            site.refetch();
        }
    });
    view! {
        <div class="mt-6">
            {loaded(mode, move |m| view! {
                <Card title="Read-only mode">
                    <ActionForm action=set attr:class="max-w-xl space-y-4">
                        {move || saved.get().then(|| view! { <Alert kind=AlertKind::Success message="Read-only mode saved."/> })}
                        <FormError error/>
                        <p class="text-sm text-slate-600">
                            "While the registry is read-only, pulls go on and every push and delete is refused "
                            "(administrators' too), with your message; every page shows it. Switch it on before "
                            "running the registry's garbage collection, and off when it is done."
                        </p>
                        <label class="flex items-start gap-2 text-sm">
                            <input type="checkbox" name="enabled" value="true" checked=m.enabled class="mt-0.5"/>
                            <span>"The registry is read-only"</span>
                        </label>
                        <Field label="Message" name="message" value=m.message.clone() required=false
                            hint="At most 500 characters, e.g. \"Garbage collection until 14:00 UTC\"."/>
                        <Submit label="Save read-only mode" busy_label="Saving…" pending=set.pending()/>
                    </ActionForm>
                </Card>
            })}
        </div>
    }
}

/// The storage quota of every namespace without one of its own.
#[component]
fn DefaultQuotaCard() -> impl IntoView {
    let set = ServerAction::<SetDefaultQuota>::new();
    let error = action_error(set);
    let query = use_query_map();
    let saved =
        Signal::derive(move || action_ok(set).get() || (query.read().get("quota").is_some() && error.get().is_none()));
    let current = Resource::new(move || set.version().get(), |_| get_default_quota());
    view! {
        <div class="mt-6">
            {loaded(current, move |q| {
                let now = match (q.limit_bytes, q.from.as_str()) {
                    (Some(l), "configuration") => format!("{} (from the configuration's default_quota_bytes).", human_size(l)),
                    (Some(l), _) => format!("{}.", human_size(l)),
                    (None, "configuration") => "None (the configuration sets none).".to_string(),
                    (None, _) => "None.".to_string(),
                };
                let value = match (q.limit_bytes, q.from.as_str()) {
                    (Some(l), "administrators") => human_size(l),
                    (None, "administrators") => "none".to_string(),
                    _ => String::new(),
                };
                view! {
                    <Card title="Default storage quota">
                        <ActionForm action=set attr:class="max-w-xl space-y-4">
                            {move || saved.get().then(|| view! { <Alert kind=AlertKind::Success message="Default quota saved."/> })}
                            <FormError error/>
                            <p class="text-sm text-slate-600">
                                "Every namespace without a quota of its own (set on its Settings tab) may store this much; "
                                "the gate refuses a push that would go over it. Now: " <span data-testid="default-quota">{now}</span>
                            </p>
                            <Field label="Default quota" name="limit" value=value placeholder="50 GB" error
                                hint="A size such as 50 GB, 500 MB or 1.5 GiB; none for no default; empty for the configuration's."/>
                            <Submit label="Save default quota" busy_label="Saving…" pending=set.pending()/>
                        </ActionForm>
                    </Card>
                }
            })}
        </div>
    }
}
