//! Pages and components. Every page renders on the server first and works as plain HTML
//! before hydration: links are links and forms are forms.

pub mod account;
pub mod admin;
pub mod cleanup;
pub mod components;
pub mod home;
pub mod images;
pub mod namespaces;
pub mod tag_rules;
pub mod teams;
pub mod webhooks;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, Meta, MetaTags, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes, A},
    hooks::use_location,
    path, Lazy, LazyRoute, PartialPathMatch, PathSegment, PossibleRouteMatch, SsrMode, StaticSegment,
};

use crate::api::account::{get_current_user, get_site_info, Logout};
use crate::error::AppError;
use crate::model::{CurrentUser, FormFlash, SiteInfo};
use components::Loading;
use leptos::server_fn::ServerFn as _;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" class="h-full bg-slate-50">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // The stylesheet's name carries its hash (hash-files): the server knows it.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="h-full">
                <App/>
            </body>
        </html>
    }
}

/// Pages whose code the browser fetches when one of them is first shown: `cargo leptos
/// --split` (every build of the site here; a wasm built without it cannot load a section) makes
/// each section a wasm module of its own, so a first visit downloads the application's frame
/// and that section, not every page (see "Front-end weight" in docs/performance.md). On the server a
/// section is just its pages.
///
/// A section, not a page, is the unit: each module the splitter makes is also a request and a
/// separately compressed file, and pages that are visited together share most of their code.
///
/// `#[lazy]` also makes, in the browser, `$preload`: it fetches the section's module. The
/// router awaits it before it renders a page of the section, so that hydration finds the
/// page's code there (named here, as `macro_rules!` cannot make the name).
macro_rules! lazy_sections {
    ($($section:ident / $preload:ident: $pages:ident { $($route:ident => $page:path),* $(,)? })*) => {$(
        // The variants are named after the routes (`HomeRoute`), so they all end in "Route".
        #[allow(clippy::enum_variant_names)]
        #[derive(Clone, Copy)]
        enum $pages {
            $($route),*
        }

        #[leptos::lazy]
        fn $section(page: $pages) -> AnyView {
            match page {
                $($pages::$route => view! { <$page/> }.into_any()),*
            }
        }

        $(
            struct $route;

            impl LazyRoute for $route {
                fn data() -> Self {
                    $route
                }

                async fn view(_this: Self) -> AnyView {
                    $section($pages::$route).await
                }

                async fn preload() {
                    #[cfg(feature = "hydrate")]
                    $preload().await;
                }
            }
        )*
    )*};
}

lazy_sections! {
    dashboard_section / __preload_dashboard_section: DashboardPages { HomeRoute => home::HomePage }
    sign_in_section / __preload_sign_in_section: SignInPages {
        LoginRoute => account::LoginPage,
        ChooseUsernameRoute => account::ChooseUsernamePage,
        SignupRoute => account::SignupPage,
        ForgotPasswordRoute => account::ForgotPasswordPage,
        ResetPasswordRoute => account::ResetPasswordPage,
    }
    account_section / __preload_account_section: AccountPages { AccountRoute => account::AccountPage }
    namespaces_section / __preload_namespaces_section: NamespacePages {
        NamespacesRoute => namespaces::NamespacesPage,
        NamespaceRoute => namespaces::NamespacePage,
        RepositorySettingsRoute => images::RepositorySettingsPage,
    }
    teams_section / __preload_teams_section: TeamPages {
        TeamsRoute => teams::TeamsPage,
        TeamRoute => teams::TeamPage,
    }
    repository_section / __preload_repository_section: RepositoryPages { RepositoryRoute => images::RepositoryPage }
    // A repository's history shares its code with the tag page's history, and its settings
    // (description, cleanup policy, delete) with the namespace page's cleanup card.
    tag_section / __preload_tag_section: TagPages {
        TagRoute => images::TagPage,
        RepositoryHistoryRoute => images::RepositoryHistoryPage,
    }
    discover_section / __preload_discover_section: DiscoverPages {
        ExploreRoute => images::ExplorePage,
        SearchRoute => images::SearchPage,
    }
    admin_section / __preload_admin_section: AdminPages {
        RegistryRoute => admin::RegistryPage,
        UsersRoute => admin::UsersPage,
        ActivityRoute => admin::ActivityPage,
        SettingsRoute => admin::SettingsPage,
        AuthenticationRoute => admin::AuthenticationPage,
        WebhooksRoute => admin::WebhooksPage,
        WebhookRoute => webhooks::WebhookPage,
    }
}

/// The rest of a repository page's path: `/<name>` for its tags, `/<name>/-/<page>` for its
/// other pages. A repository name has slashes, so `/repositories/*name/history` could be a
/// repository's name; "-" cannot be a part of one (each starts with a letter or digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepositoryPath(&'static str);

impl RepositoryPath {
    pub const TAGS: Self = Self("");
    pub const HISTORY: Self = Self("history");
    pub const SETTINGS: Self = Self("settings");

    /// The address of this page of repository `name`.
    pub fn of(self, name: &str) -> String {
        match self.0 {
            "" => format!("/repositories/{name}"),
            page => format!("/repositories/{name}/-/{page}"),
        }
    }
}

impl PossibleRouteMatch for RepositoryPath {
    fn optional(&self) -> bool {
        false
    }

    fn test<'a>(&self, path: &'a str) -> Option<PartialPathMatch<'a>> {
        let rest = path.strip_prefix('/')?.trim_end_matches('/');
        let name = match rest.split_once("/-/") {
            None if self.0.is_empty() => rest,
            Some((name, page)) if page == self.0 => name,
            _ => return None,
        };
        (!name.is_empty()).then(|| PartialPathMatch::new("", vec![("name".into(), name.to_string())], path))
    }

    fn generate_path(&self, path: &mut Vec<PathSegment>) {
        path.push(PathSegment::Splat("name".into()));
    }
}

/// Who is signed in, loaded once per page load and shared by every component.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
    pub site: Resource<Result<SiteInfo, AppError>>,
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // A refused plain form post, carried by the session (server::flash): its error goes to
    // the form's action as an error in the address would, and its values back into the form.
    // Read once on the server and handed to the hydrating page as it was.
    let flash = SharedValue::new(|| {
        #[cfg(feature = "ssr")]
        return use_context::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<FormFlash>().cloned());
        #[cfg(not(feature = "ssr"))]
        None::<FormFlash>
    });
    if let Some(flash) = flash.into_inner() {
        provide_context(leptos::server::ServerActionError::new(&flash.path, &flash.error));
        provide_context(flash);
    }
    let session = Session {
        user: Resource::new_blocking(|| (), |_| get_current_user()),
        site: Resource::new_blocking(|| (), |_| get_site_info()),
    };
    provide_context(session);
    let (is_routing, set_is_routing) = signal(false);

    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="Portcullis: accounts, teams and access control for your container registry."/>
        <Title formatter=|t: String| if t.is_empty() { "Portcullis".to_string() } else { format!("{t} · Portcullis") }/>
        <Router set_is_routing>
            <div class="flex min-h-full flex-col">
                // While the router goes to a page (its data, and its section's code the first
                // time), a bar at the top says so; the page shown stays until the next is ready.
                <div class="fixed inset-x-0 top-0 z-50 h-1 animate-pulse bg-indigo-400" class:hidden=move || !is_routing.get()
                    role="progressbar" aria-label="Loading the page"></div>
                // The first stop of the keyboard: past the navigation, to the page itself.
                <a href="#main" class="sr-only rounded-md bg-white text-sm font-semibold text-indigo-700 shadow focus:not-sr-only focus:fixed focus:left-4 focus:top-4 focus:z-50 focus:px-4 focus:py-2">
                    "Skip to content"
                </a>
                <Header/>
                <main id="main" tabindex="-1" class="mx-auto w-full max-w-6xl flex-1 px-4 py-8 outline-none sm:px-6 lg:px-8">
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/login/choose-username") view={Lazy::<ChooseUsernameRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/signup") view={Lazy::<SignupRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/forgot-password") view={Lazy::<ForgotPasswordRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/reset-password") view={Lazy::<ResetPasswordRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/namespaces") view={Lazy::<NamespacesRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/namespaces/:name") view={Lazy::<NamespaceRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/teams") view={Lazy::<TeamsRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/teams/:name") view={Lazy::<TeamRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=(StaticSegment("repositories"), RepositoryPath::TAGS) view={Lazy::<RepositoryRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=(StaticSegment("repositories"), RepositoryPath::HISTORY) view={Lazy::<RepositoryHistoryRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=(StaticSegment("repositories"), RepositoryPath::SETTINGS) view={Lazy::<RepositorySettingsRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/tags/:id") view={Lazy::<TagRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/explore") view={Lazy::<ExploreRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/search") view={Lazy::<SearchRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/admin/registry") view={Lazy::<RegistryRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/admin") view=|| view! { <Redirect path="/admin/users"/> } ssr=SsrMode::Async/>
                        <Route path=path!("/admin/users") view={Lazy::<UsersRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/admin/activity") view={Lazy::<ActivityRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/admin/settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/admin/authentication") view={Lazy::<AuthenticationRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/admin/webhooks") view={Lazy::<WebhooksRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/webhooks/:id") view={Lazy::<WebhookRoute>::new()} ssr=SsrMode::Async/>
                    </Routes>
                </main>
                <footer class="border-t border-slate-200 py-4 text-center text-xs text-slate-500">
                    "Portcullis · the gate in front of your container registry"
                </footer>
            </div>
        </Router>
    }
}

/// Top bar: product name, navigation, and the user menu.
#[component]
fn Header() -> impl IntoView {
    let session = use_session();
    let nav = move |user: Option<CurrentUser>| {
        let links = match &user {
            None => vec![("/explore", "Explore")],
            Some(u) => {
                let mut l = vec![
                    ("/", "Dashboard"),
                    ("/namespaces", "Namespaces"),
                    ("/teams", "Teams"),
                    ("/explore", "Explore"),
                ];
                if u.is_admin {
                    l.push(("/admin/users", "Admin"));
                }
                l
            }
        };
        links
            .into_iter()
            .map(|(href, label)| {
                view! {
                    <A href=href exact=href == "/" attr:class="rounded-md px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-800 hover:text-white aria-[current=page]:bg-slate-800 aria-[current=page]:text-white">
                        {label}
                    </A>
                }
            })
            .collect_view()
    };
    view! {
        <header class="bg-slate-900 text-white shadow">
            <div class="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3 sm:px-6 lg:px-8">
                <a href="/" class="flex items-center gap-2 text-lg font-bold tracking-tight">
                    <img src="/favicon.svg" alt="" class="h-7 w-7"/>
                    "Portcullis"
                </a>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let user = session.user.await.ok().flatten();
                        let site = session.site.await.ok();
                        let signup_enabled = site.as_ref().is_some_and(|s| s.signup_enabled);
                        // In read-only mode, on every page: what the administrators said.
                        let read_only = site.and_then(|s| s.read_only).map(|said| view! {
                            <p role="status" class="order-last w-full rounded-md bg-amber-50 px-3 py-1.5 text-center text-sm text-amber-900">
                                {said}
                            </p>
                        });
                        view! {
                            // On a phone the links wrap onto lines of their own (none is pushed
                            // off the screen), and search takes the line under them.
                            <nav class="order-3 -mx-2 flex w-full flex-wrap gap-1 sm:order-none sm:mx-0 sm:w-auto" aria-label="Main">
                                {nav(user.clone())}
                            </nav>
                            <form method="get" action="/search" role="search" class="order-4 w-full md:order-none md:ml-auto md:w-auto">
                                <input name="q" placeholder="Search images…" aria-label="Search images"
                                    class="w-full rounded-md border border-slate-700 bg-slate-800 px-3 py-1.5 text-sm text-white placeholder:text-slate-400 focus:border-indigo-400 focus:outline-none md:w-44 lg:w-56"/>
                            </form>
                            <div class="ml-auto flex items-center gap-3 md:ml-0">
                                <UserMenu user signup_enabled/>
                            </div>
                            {read_only}
                        }
                    })}
                </Transition>
            </div>
        </header>
    }
}

/// The signed-in user's menu, a `<details>` so it opens without JavaScript; or the sign-in links.
#[component]
fn UserMenu(user: Option<CurrentUser>, signup_enabled: bool) -> impl IntoView {
    match user {
        None => view! {
            <div class="flex items-center gap-2 text-sm">
                <a href="/login" class="rounded-md px-3 py-2 font-medium text-slate-200 hover:text-white">"Sign in"</a>
                {signup_enabled.then(|| view! {
                    <a href="/signup" class="rounded-md bg-indigo-500 px-3 py-2 font-semibold text-white hover:bg-indigo-400">"Sign up"</a>
                })}
            </div>
        }
        .into_any(),
        Some(user) => {
            let initial = user.username.chars().next().unwrap_or('?').to_ascii_uppercase();
            view! {
                <details class="group relative">
                    <summary class="flex cursor-pointer list-none items-center gap-2 rounded-md px-2 py-1 text-sm hover:bg-slate-800" data-testid="user-menu">
                        <span class="flex h-8 w-8 items-center justify-center rounded-full bg-indigo-500 font-semibold">{initial.to_string()}</span>
                        <span class="hidden font-medium sm:inline">{user.username.clone()}</span>
                        {user.is_admin.then(|| view! { <span class="rounded bg-amber-400/20 px-1.5 py-0.5 text-xs font-semibold text-amber-300">"admin"</span> })}
                    </summary>
                    <div class="absolute right-0 z-20 mt-2 w-48 rounded-md border border-slate-200 bg-white py-1 text-sm text-slate-700 shadow-lg">
                        <p class="border-b border-slate-100 px-4 py-2 text-xs text-slate-500">
                            "Signed in as " <span class="font-semibold text-slate-800">{user.username.clone()}</span>
                        </p>
                        <a href="/account" class="block px-4 py-2 hover:bg-slate-50">"Account"</a>
                        <form method="post" action=Logout::url()>
                            <button type="submit" class="block w-full px-4 py-2 text-left hover:bg-slate-50">"Sign out"</button>
                        </form>
                    </div>
                </details>
            }
            .into_any()
        }
    }
}

/// Renders `page` for the signed-in user; sends visitors to the login page and back here after.
pub fn signed_in<V, F>(page: F) -> impl IntoView
where
    F: Fn(CurrentUser) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let session = use_session();
    let location = use_location();
    view! {
        <Transition fallback=Loading>
            {move || {
                let page = page.clone();
                let here = location.pathname.get_untracked();
                Suspend::new(async move {
                    match session.user.await {
                        Ok(Some(user)) => page(user).into_any(),
                        Ok(None) => {
                            let to = format!("/login?next={}", urlencode(&here));
                            view! { <Redirect path=to/> }.into_any()
                        }
                        Err(e) => view! { <components::Alert kind=components::AlertKind::Error message=e.message()/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// Renders `page` for whoever is there: a signed-in user or a visitor (`None`).
pub fn signed_in_or_visitor<V, F>(page: F) -> impl IntoView
where
    F: Fn(Option<CurrentUser>) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let session = use_session();
    view! {
        <Transition fallback=Loading>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match session.user.await {
                        Ok(user) => page(user).into_any(),
                        Err(e) => view! { <components::Alert kind=components::AlertKind::Error message=e.message()/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
pub fn urlencode(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const RESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    utf8_percent_encode(s, RESERVED).to_string()
}

/// The 404 page. On the server it also sets the status code.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <div class="mx-auto max-w-lg py-16 text-center">
            <p class="text-sm font-semibold text-indigo-600">"404"</p>
            <h1 class="mt-2 text-3xl font-bold tracking-tight text-slate-900">"Page not found"</h1>
            <p class="mt-3 text-slate-600">"There is nothing at this address. It may have been moved or deleted, or you may not have access to it."</p>
            <a href="/" class=format!("mt-6 {}", components::BUTTON)>"Back to the dashboard"</a>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::{urlencode, RepositoryPath};
    use leptos_router::PossibleRouteMatch;

    #[test]
    fn repository_pages_are_told_apart_by_their_path() {
        let name = |p: RepositoryPath, path: &str| p.test(path).map(|m| m.params()[0].1.clone());
        assert_eq!(name(RepositoryPath::TAGS, "/alice/app").as_deref(), Some("alice/app"));
        assert_eq!(name(RepositoryPath::TAGS, "/alice/app/-/history"), None);
        assert_eq!(name(RepositoryPath::HISTORY, "/alice/app/-/history").as_deref(), Some("alice/app"));
        assert_eq!(name(RepositoryPath::HISTORY, "/alice/app"), None);
        assert_eq!(name(RepositoryPath::SETTINGS, "/alice/app/-/history"), None);
        assert_eq!(name(RepositoryPath::SETTINGS, "/app/-/settings/").as_deref(), Some("app"));
        assert_eq!(name(RepositoryPath::SETTINGS, "/-/settings"), None);
        assert_eq!(RepositoryPath::SETTINGS.of("alice/app"), "/repositories/alice/app/-/settings");
    }

    #[test]
    fn urlencode_keeps_unreserved_only() {
        assert_eq!(urlencode("/namespaces/a b?x=1"), "%2Fnamespaces%2Fa%20b%3Fx%3D1");
        assert_eq!(urlencode("a-b_c.d~e"), "a-b_c.d~e");
    }
}
