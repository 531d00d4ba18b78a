//! The front page: the dashboard for a signed-in user, a short introduction for a visitor.

use leptos::prelude::*;
use leptos_meta::Title;

use super::components::{CopyLine, EmptyState, Loading, PageHeader, BUTTON, BUTTON_SECONDARY};
use super::use_session;
use crate::model::CurrentUser;

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
    let ns = user.username.clone();
    view! {
        <Title text="Dashboard"/>
        <PageHeader title=format!("Welcome, {}", user.username) subtitle="Your images, teams and recent activity."/>
        <EmptyState title="No images yet">
            <p>
                "Push your first image to your personal namespace "
                <code class="rounded bg-slate-100 px-1 font-mono text-slate-800">{ns.clone()}</code>
                ". Sign in to the registry with your Portcullis username and password, then push:"
            </p>
            <div class="mx-auto mt-4 max-w-xl space-y-2 text-left">
                <CopyLine command=format!("docker login {registry} -u {}", user.username)/>
                <CopyLine command=format!("docker tag hello-world {registry}/{ns}/hello-world:latest")/>
                <CopyLine command=format!("docker push {registry}/{ns}/hello-world:latest")/>
            </div>
        </EmptyState>
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
