// Hash routes (#/fleet, #/commands/ID): the server serves one page for every path.
import { useEffect, useState } from "react";

export function useRoute(): string {
  const [route, setRoute] = useState(() => window.location.hash.replace(/^#/, "") || "/fleet");
  useEffect(() => {
    const changed = () => setRoute(window.location.hash.replace(/^#/, "") || "/fleet");
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

export function go(path: string) {
  window.location.hash = path;
}
