import { lazy, Suspense, useEffect, useState } from "react";
import AppLayout from "@cloudscape-design/components/app-layout";
import SideNavigation from "@cloudscape-design/components/side-navigation";
import TopNavigation from "@cloudscape-design/components/top-navigation";
import Spinner from "@cloudscape-design/components/spinner";
import { applyMode, Mode } from "@cloudscape-design/global-styles";
import { currentSession, onSignedOut, Session, signOut } from "./api";
import { go, useRoute } from "./route";
import SignIn from "./pages/SignIn";
import Fleet from "./pages/Fleet";
import NodeDetail from "./pages/NodeDetail";
import RunCommand from "./pages/RunCommand";
import CommandDetail from "./pages/CommandDetail";
import Parameters from "./pages/Parameters";
import ParameterDetail from "./pages/ParameterDetail";
import Sessions from "./pages/Sessions";
import Documents from "./pages/Documents";
import DocumentDetail, { NewDocument } from "./pages/DocumentDetail";
import Automation from "./pages/Automation";
import AutomationDetail from "./pages/AutomationDetail";
import Distributor, { PackageDetail } from "./pages/Distributor";
import Associations from "./pages/Associations";
import AssociationDetail from "./pages/AssociationDetail";
import Windows from "./pages/Windows";
import WindowDetail from "./pages/WindowDetail";
import Inventory from "./pages/Inventory";
import Compliance from "./pages/Compliance";
import Patch from "./pages/Patch";
import NewPatchBaseline from "./pages/PatchBaselineForm";
import Audit from "./pages/Audit";

const DARK = "steward-console-dark";

// The terminal (xterm.js) loads only when a shell or a replay opens, keeping the first load small.
const Shell = lazy(() => import("./pages/Shell"));
const Replay = lazy(() => import("./pages/Replay"));

function Page({ route, region }: { route: string; region: string }) {
  const [, section, rest] = route.match(/^\/([^/]*)\/?(.*)$/) ?? [];
  switch (section) {
    case "run":
      return <RunCommand />;
    case "commands":
      return <CommandDetail commandId={decodeURIComponent(rest)} />;
    case "parameters":
      return rest ? <ParameterDetail name={decodeURIComponent(rest)} /> : <Parameters />;
    case "documents":
      if (rest === "new") return <NewDocument />;
      return rest ? <DocumentDetail name={decodeURIComponent(rest)} /> : <Documents />;
    case "sessions":
      return rest ? (
        <Suspense fallback={<Spinner size="large" />}>
          <Shell node={decodeURIComponent(rest)} />
        </Suspense>
      ) : (
        <Sessions />
      );
    case "replay":
      return (
        <Suspense fallback={<Spinner size="large" />}>
          <Replay sessionId={decodeURIComponent(rest)} />
        </Suspense>
      );
    case "associations":
      return rest ? <AssociationDetail id={decodeURIComponent(rest)} /> : <Associations />;
    case "automation":
      return rest ? <AutomationDetail id={decodeURIComponent(rest)} /> : <Automation />;
    case "windows":
      return rest ? <WindowDetail id={decodeURIComponent(rest)} /> : <Windows />;
    case "distributor":
      return rest ? <PackageDetail name={decodeURIComponent(rest)} /> : <Distributor region={region} />;
    case "fleet":
      return rest ? <NodeDetail id={decodeURIComponent(rest)} /> : <Fleet />;
    case "inventory":
      return <Inventory />;
    case "compliance":
      return <Compliance />;
    case "patch":
      return rest === "baselines/new" ? <NewPatchBaseline /> : <Patch />;
    case "audit":
      return <Audit />;
    default:
      return <Fleet />;
  }
}

export default function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [dark, setDark] = useState(() => localStorage.getItem(DARK) === "1");
  const route = useRoute();

  useEffect(() => {
    onSignedOut(() => setSession(null));
    currentSession()
      .then(setSession)
      .catch(() => setSession(null));
  }, []);
  useEffect(() => {
    applyMode(dark ? Mode.Dark : Mode.Light);
    localStorage.setItem(DARK, dark ? "1" : "0");
  }, [dark]);

  if (session === undefined) return <Spinner size="large" />;
  if (session === null) return <SignIn onSignedIn={setSession} />;

  const active = "#/" + (route.split("/")[1] || "fleet");
  return (
    <>
      <div id="top-nav">
        <TopNavigation
          identity={{ href: "#/fleet", title: "Steward" }}
          utilities={[
            { type: "button", text: dark ? "Light mode" : "Dark mode", onClick: () => setDark(!dark) },
            {
              type: "menu-dropdown",
              text: session.arn.split(":").pop() ?? session.arn,
              description: `${session.account} · ${session.region}`,
              iconName: "user-profile",
              items: [{ id: "signout", text: "Sign out" }],
              onItemClick: async () => {
                await signOut();
                setSession(null);
              },
            },
          ]}
        />
      </div>
      <AppLayout
        toolsHide
        headerSelector="#top-nav"
        navigation={
          <SideNavigation
            header={{ href: "#/fleet", text: "Systems manager" }}
            activeHref={active}
            onFollow={(e) => {
              e.preventDefault();
              go(e.detail.href.replace(/^#/, ""));
            }}
            items={[
              { type: "link", text: "Fleet", href: "#/fleet" },
              { type: "link", text: "Run Command", href: "#/run" },
              { type: "link", text: "State Manager", href: "#/associations" },
              { type: "link", text: "Documents", href: "#/documents" },
              { type: "link", text: "Parameter Store", href: "#/parameters" },
              { type: "link", text: "Session Manager", href: "#/sessions" },
              { type: "link", text: "Automation", href: "#/automation" },
              { type: "link", text: "Maintenance windows", href: "#/windows" },
              { type: "link", text: "Distributor", href: "#/distributor" },
              { type: "link", text: "Inventory", href: "#/inventory" },
              { type: "link", text: "Compliance", href: "#/compliance" },
              { type: "link", text: "Patch Manager", href: "#/patch" },
              { type: "link", text: "Audit", href: "#/audit" },
            ]}
          />
        }
        content={<Page route={route} region={session.region} />}
      />
    </>
  );
}
