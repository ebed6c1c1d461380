// Keyboard navigation of a list: ↓/j and ↑/k move, Home/End jump; the selection stays in range.
export function moveSelection(index: number, key: string, count: number): number {
  if (count === 0) return -1;
  switch (key) {
    case "ArrowDown":
    case "j":
      return Math.min(count - 1, index + 1);
    case "ArrowUp":
    case "k":
      return Math.max(0, index - 1);
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return Math.max(0, Math.min(index, count - 1));
  }
}
