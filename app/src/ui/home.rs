//! The front page: the dashboard for a signed-in user, a short introduction for a visitor.

use leptos::prelude::*;
use leptos_meta::Title;

use super::components::*;
use super::use_session;
use crate::api::dashboard::{dashboard, RecentPush};
use crate::model::CurrentUser;
use crate::model::{human_size, short_digest};

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let site = session.site.await.ok();
                let registry = site.as_ref().map(|s| s.registry_host.clone()).unwrap_or_default();
                let signup_enabled = site.is_some_and(|s| s.signup_enabled);
                match session.user.await.ok().flatten() {
                    Some(user) => view! { <Dashboard user registry/> }.into_any(),
                    None => view! { <Welcome signup_enabled/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Dashboard(user: CurrentUser, registry: String) -> impl IntoView {
    let data = Resource::new(|| (), |_| dashboard());
    let username = user.username.clone();
    view! {
        <Title text="Dashboard"/>
        <PageHeader title=format!("Welcome, {}", user.username) subtitle="Your images, namespaces and teams."/>
        {loaded_part(data, move |d| {
            let (registry, username) = (registry.clone(), username.clone());
            let first = (!d.pushed).then(|| view! { <FirstPush registry username=username.clone() plain_http=d.plain_http/> });
            let (own, others): (Vec<_>, Vec<_>) =
                d.recent.into_iter().partition(|t| t.pushed_by.as_deref() == Some(username.as_str()));
            let pushes = view! {
                {first}
                {(!own.is_empty()).then(|| view! { <RecentPushes title="Your recent pushes" pushes=own/> })}
                {(!others.is_empty()).then(|| view! { <RecentPushes title="Others' recent pushes" pushes=others/> })}
            };
            let teams = if d.teams.is_empty() {
                view! { <p class="text-sm text-slate-600">"No teams yet. " <a class=LINK href="/teams">"Create or join one"</a></p> }.into_any()
            } else {
                view! {
                    <ul class="divide-y divide-slate-100 text-sm">
                        {d.teams.into_iter().map(|(name, role)| view! {
                            <li class="flex items-center justify-between py-2">
                                <a class=LINK href=format!("/teams/{name}")>{name.clone()}</a>
                                {role.map(role_badge)}
                            </li>
                        }).collect_view()}
                    </ul>
                    <a class=format!("mt-3 inline-block text-sm {LINK}") href="/teams">"All teams →"</a>
                }.into_any()
            };
            view! {
                <div class="grid gap-6 lg:grid-cols-3">
                    <div class="space-y-6 lg:col-span-2">{pushes}</div>
                    <div class="space-y-6">
                        <Card title="Your namespaces">
                            <ul class="divide-y divide-slate-100 text-sm">
                                {d.namespaces.into_iter().map(|(name, visibility)| view! {
                                    <li class="flex items-center justify-between py-2">
                                        <a class=LINK href=format!("/namespaces/{name}")>{name.clone()}</a>
                                        {visibility_badge(visibility)}
                                    </li>
                                }).collect_view()}
                            </ul>
                            <a class=format!("mt-3 inline-block text-sm {LINK}") href="/namespaces">"All namespaces →"</a>
                        </Card>
                        <Card title="Your teams">{teams}</Card>
                    </div>
                </div>
            }
        })}
    }
}

#[component]
fn Welcome(signup_enabled: bool) -> impl IntoView {
    view! {
        <Title text="Welcome"/>
        <section class="mx-auto max-w-3xl py-10 text-center sm:py-16">
            <img src="/favicon.svg" alt="" class="mx-auto h-16 w-16"/>
            <h1 class="mt-6 text-4xl font-bold tracking-tight text-slate-900 sm:text-5xl">
                "The gate in front of your container registry"
            </h1>
            <p class="mt-4 text-lg text-slate-600">
                "Portcullis manages who may pull and push what: users, teams and namespaces, "
                "with a dashboard to browse your images."
            </p>
            <div class="mt-8 flex flex-wrap justify-center gap-3">
                <a href="/login" class=BUTTON>"Sign in"</a>
                {signup_enabled.then(|| view! { <a href="/signup" class=BUTTON_SECONDARY>"Create an account"</a> })}
            </div>
        </section>
    }
}

/// How to push a first image, until the viewer has pushed one: to their personal namespace,
/// which has their username. Three lines to copy, and the way a script signs in.
#[component]
fn FirstPush(registry: String, username: String, plain_http: bool) -> impl IntoView {
    let image = format!("{registry}/{username}/hello-world:latest");
    let local = registry.starts_with("127.") || registry.starts_with("localhost");
    view! {
        <section class="space-y-2 rounded-lg border border-indigo-200 bg-indigo-50 p-4 text-sm" data-testid="first-push">
            <h2 class="font-semibold">"Push your first image"</h2>
            <p>"Sign in, tag any image, push:"</p>
            <CopyLine command=format!("docker login {registry} -u {username}")/>
            <CopyLine command=format!("docker tag hello-world {image}")/>
            <CopyLine command=format!("docker push {image}")/>
            <p>"In CI, with an " <a class=LINK href="/account#tokens">"access token"</a> ":"</p>
            <CopyLine command=format!("echo \"$TOKEN\" | docker login {registry} -u {username} --password-stdin")/>
            {plain_http.then(|| view! {
                <p class="text-slate-700" data-testid="plain-http">
                    "This registry speaks plain HTTP. "
                    {if local { "Docker accepts that for 127.0.0.1 as it is; " } else { "Docker needs it listed first: " }}
                    {(!local).then(|| view! { <code class="break-all text-xs">{format!("\"insecure-registries\": [\"{registry}\"]")}</code> })}
                    {(!local).then_some(" in /etc/docker/daemon.json, then a restart of docker; ")}
                    "podman and skopeo need " <code class="text-xs">"--tls-verify=false"</code> "."
                </p>
            })}
        </section>
    }
}

/// Latest pushes the viewer may see, under `title`.
#[component]
fn RecentPushes(title: &'static str, pushes: Vec<RecentPush>) -> impl IntoView {
    view! {
        <section>
            <h2 class="mb-3 text-base font-semibold text-slate-900">{title}</h2>
            <Table head=vec!["Image", "Digest", "Size", "Pushed"]>
                {pushes.into_iter().map(|t| view! {
                    <tr class="hover:bg-slate-50">
                        <td class=TD><a class=LINK href=format!("/tags/{}", t.tag_id)>{format!("{}:{}", t.repository, t.tag)}</a></td>
                        <td class=TD><code class="text-xs">{short_digest(&t.digest).to_string()}</code></td>
                        <td class=TD>{t.size.map(human_size)}</td>
                        <td class=TD>{time_view(t.pushed_at)} {t.pushed_by.map(|b| view! { <span class="text-slate-500">{format!(" by {b}")}</span> })}</td>
                    </tr>
                }).collect_view()}
            </Table>
        </section>
    }
}
