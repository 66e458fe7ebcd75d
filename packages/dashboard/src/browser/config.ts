/** What the server puts in the page (`#dashboard-config`). */
export interface Config {
  /** The dashboard's path, ending with `/`: its API is at `${base}api/…`. */
  base: string;
  title: string;
  pageSize: number;
  endpoints: string[];
  owner: { limited: false } | { limited: true; owner: string | null };
}

export function readConfig(): Config {
  const element = document.getElementById('dashboard-config');
  return JSON.parse(element?.textContent ?? '{}') as Config;
}
