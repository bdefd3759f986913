import Box from "@cloudscape-design/components/box";
import { Status } from "./CommandDetail";

/** The fields of a StepExecution (GetAutomationExecution) the graph draws from. */
export interface GraphStep {
  StepName: string;
  Action?: string;
  StepStatus: string;
  StepExecutionId?: string;
  NextStep?: string;
  ValidNextSteps?: string[];
  IsEnd?: boolean;
  OnFailure?: string;
  IsCritical?: boolean;
  /** Steps inside an aws:loop: their loop and which pass (SSM's ParentStepDetails). */
  ParentStepDetails?: { StepName?: string; Iteration?: number; IteratorValue?: string };
}

/** The box's colour: one per kind of state. */
type Tone = "success" | "error" | "in-progress" | "waiting" | "pending" | "stopped";

const TONES: Record<string, Tone> = {
  Success: "success",
  CompletedWithSuccess: "success",
  Failed: "error",
  TimedOut: "error",
  CompletedWithFailure: "error",
  InProgress: "in-progress",
  Cancelling: "in-progress",
  Waiting: "waiting",
  Pending: "pending",
  Scheduled: "pending",
  Cancelled: "stopped",
};

const CURRENT = ["InProgress", "Waiting"];

/** What the box notes of where the flow goes after step `i`, other than on to the next box. */
function notes(steps: GraphStep[], i: number): string[] {
  const s = steps[i];
  const following = steps[i + 1]?.StepName;
  const out: string[] = [];
  const choices = s.ValidNextSteps ?? [];
  if (choices.length > 1) out.push(`branches to ${choices.join(", ")}`);
  if (s.NextStep && (s.NextStep !== following || choices.length > 1)) out.push(`→ ${s.NextStep}`);
  if (s.IsEnd) out.push("ends the runbook");
  const onFailure = s.OnFailure ?? "Abort";
  if (onFailure.startsWith("step:")) out.push(`on failure → ${onFailure.slice("step:".length)}`);
  else if (onFailure === "Continue") out.push("on failure: continue");
  if (s.IsCritical === false) out.push("not critical");
  return out;
}

/** Where a step that runs more than once (a loop's) is among its runs, for its label. */
function pass(steps: GraphStep[], i: number): string | undefined {
  const s = steps[i];
  const loop = s.ParentStepDetails;
  if (loop?.Iteration !== undefined) return `iteration ${loop.Iteration}`;
  const runs = steps.filter((t) => t.StepName === s.StepName).length;
  if (runs < 2) return undefined;
  const run = steps.slice(0, i + 1).filter((t) => t.StepName === s.StepName).length;
  return `run ${run} of ${runs}`;
}

/** An execution's steps as a flow, in the order they ran: one box per step run, its state
 * shown by its status and its border, arrows between boxes; a branch, a jump or an
 * onFailure step is a note on its box rather than an edge. */
export default function ExecutionGraph({ steps }: { steps: GraphStep[] }) {
  if (steps.length === 0) return <Box color="text-status-inactive">No step has run yet.</Box>;
  // The step under way: the last one running or waiting (a loop stays running while its steps run).
  let current = -1;
  steps.forEach((s, i) => {
    if (CURRENT.includes(s.StepStatus)) current = i;
  });
  return (
    // role="list": list-style none loses the list role in some screen readers.
    <ol className="execution-flow" role="list" aria-label="Execution flow">
      {steps.map((s, i) => {
        const tone = TONES[s.StepStatus] ?? "pending";
        const which = pass(steps, i);
        const loop = s.ParentStepDetails?.StepName;
        const label = `Step ${s.StepName}: ${s.StepStatus}${which ? ` (${which})` : ""}`;
        const said = notes(steps, i);
        return (
          <li
            key={s.StepExecutionId ?? i}
            className={`execution-step execution-step--${tone}${loop ? " execution-step--nested" : ""}`}
            aria-label={label}
            aria-current={i === current ? "step" : undefined}
          >
            {i > 0 && <div className="execution-step__arrow" aria-hidden="true" />}
            <div className="execution-step__box">
              <div className="execution-step__head">
                <span className="execution-step__name">{s.StepName}</span>
                <Status status={s.StepStatus} />
              </div>
              {s.Action && <div className="execution-step__action">{s.Action}</div>}
              {(loop || which) && (
                <div className="execution-step__note">
                  {[loop && `in loop ${loop}`, which].filter(Boolean).join(", ")}
                </div>
              )}
              {said.length > 0 && (
                <div className="execution-step__notes">
                  {said.map((n) => (
                    <span key={n} className="execution-step__note">
                      {n}
                    </span>
                  ))}
                </div>
              )}
            </div>
          </li>
        );
      })}
    </ol>
  );
}
