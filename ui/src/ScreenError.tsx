// A screen that fails to draw says so in place of itself; the tabs, the inbox and the rest of the
// console keep working (without it, one error left the whole window blank).
import { Component, type ReactNode } from "react";

export class ScreenError extends Component<{ screen: string; children: ReactNode }, { problem: string | null }> {
  state = { problem: null as string | null };

  static getDerivedStateFromError(error: unknown) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }

  componentDidUpdate(previous: { screen: string }) {
    // Another screen chosen: try again.
    if (previous.screen !== this.props.screen && this.state.problem) this.setState({ problem: null });
  }

  render() {
    if (this.state.problem) {
      return (
        <section className="empty" role="alert">
          <p>This screen could not be shown: {this.state.problem}</p>
          <button onClick={() => this.setState({ problem: null })}>Try again</button>
        </section>
      );
    }
    return this.props.children;
  }
}
