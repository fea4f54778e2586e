// What the list and a connection's page both show of a connection: its status in words, a
// moment, and the bank's logo (its initial when there is none or it does not load).

export const STATUS = {
  connected: "Retrieving data",
  active: "Active",
  failed: "Failed",
  invalid: "Needs fixing",
};

export function when(iso) {
  if (!iso) return "never";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function initial(item) {
  const span = document.createElement("span");
  span.className = "item-logo";
  span.textContent = (item.institution || "?").slice(0, 1);
  return span;
}

export function logoOf(item) {
  if (!item.logo) return initial(item);
  const img = document.createElement("img");
  img.className = "item-logo";
  img.alt = "";
  img.addEventListener("error", () => img.replaceWith(initial(item)), { once: true });
  img.src = item.logo;
  return img;
}
