/** Light or dark, remembered in the browser; the first visit follows the system setting. */
export type Theme = "light" | "dark";

const THEME_KEY = "qo.theme";

/** The remembered theme, else the system's preference. */
export function initialTheme(): Theme {
  const stored = localStorage.getItem(THEME_KEY);
  if (stored === "light" || stored === "dark") return stored;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** Apply a theme to the page and remember it. */
export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem(THEME_KEY, theme);
}
