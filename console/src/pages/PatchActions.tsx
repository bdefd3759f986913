// The Patch Manager page's writes: a baseline made the default or deleted, patch groups
// registered and deregistered, and AWS-RunPatchBaseline sent to chosen nodes. Each action says
// how it went through `onDone`; the page shows that and reads itself again after a change.
import { ReactNode, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import RadioGroup from "@cloudscape-design/components/radio-group";
import Select, { SelectProps } from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { call, why } from "../api";
import { SubmitForm, useAction } from "./forms";
import { go } from "../route";

/** How an action went, in a line a person reads. */
export interface Outcome {
  type: "success" | "error";
  text: string;
}

/** A baseline the account made (SSM names those by `pb-` id; predefined ones by ARN). */
export const isOwn = (baselineId: string) => baselineId.startsWith("pb-");

/** Runs one write and reports it: `done` on success, the API's reason on failure. */
async function attempt(write: () => Promise<unknown>, done: string, onDone: (o: Outcome) => void) {
  try {
    await write();
    onDone({ type: "success", text: done });
  } catch (e) {
    onDone({ type: "error", text: why(e) });
  }
}

/** A dialog asking to confirm an action that cannot be undone from here; while the action
 * runs its button is busy, and when it fails the reason stays in the dialog. */
function ConfirmModal({
  header,
  confirm,
  onConfirm,
  onCancel,
  children,
}: {
  header: string;
  confirm: string;
  onConfirm: () => Promise<string | undefined>;
  onCancel: () => void;
  children: ReactNode;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const run = async () => {
    setBusy(true);
    setError("");
    const failed = await onConfirm();
    // On success the dialog is closed by its owner; only a failure is left to show.
    if (failed) {
      setError(failed);
      setBusy(false);
    }
  };
  return (
    <Modal
      visible
      header={header}
      onDismiss={onCancel}
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={onCancel}>
              Cancel
            </Button>
            <Button variant="primary" loading={busy} onClick={run}>
              {confirm}
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      <SpaceBetween size="m">
        {children}
        {error && <Alert type="error">{error}</Alert>}
      </SpaceBetween>
    </Modal>
  );
}

/** A baseline row's actions: any baseline but the default can become its OS's default
 * (choosing a predefined one again is how an own default is undone); the account's own
 * baselines can be deleted, which SSM refuses while one is a default or serves a group. */
export function BaselineActions({ baseline, onDone }: { baseline: any; onDone: (o: Outcome) => void }) {
  const [deleting, setDeleting] = useState(false);
  const id: string = baseline.BaselineId;
  const name: string = baseline.BaselineName || id;

  const makeDefault = () =>
    attempt(
      () => call("ssm", "RegisterDefaultPatchBaseline", { BaselineId: id }),
      `${name} is now the default baseline for ${baseline.OperatingSystem}.`,
      onDone,
    );

  const remove = async (): Promise<string | undefined> => {
    try {
      await call("ssm", "DeletePatchBaseline", { BaselineId: id });
    } catch (e) {
      return why(e);
    }
    setDeleting(false);
    onDone({ type: "success", text: `Deleted patch baseline ${name}.` });
    return undefined;
  };

  return (
    <SpaceBetween direction="horizontal" size="xs">
      {!baseline.DefaultBaseline && (
        <Button variant="inline-link" ariaLabel={`Set ${name} as default`} onClick={makeDefault}>
          Set as default
        </Button>
      )}
      {isOwn(id) && (
        <Button variant="inline-link" ariaLabel={`Delete ${name}`} onClick={() => setDeleting(true)}>
          Delete
        </Button>
      )}
      {deleting && (
        <ConfirmModal header="Delete patch baseline" confirm="Delete" onConfirm={remove} onCancel={() => setDeleting(false)}>
          <Box>
            Delete <b>{name}</b> ({id})? Nodes that used it get their patch group's or their operating
            system's default baseline at their next scan.
          </Box>
        </ConfirmModal>
      )}
    </SpaceBetween>
  );
}

/** A baseline as the group form offers it: its name, with OS and id to tell alike ones apart. */
function baselineOption(b: any): SelectProps.Option {
  return { value: b.BaselineId, label: b.BaselineName || b.BaselineId, description: `${b.OperatingSystem} · ${b.BaselineId}` };
}

/** Registers a baseline for a patch group (a group has one baseline per operating system). The
 * baselines are those the page has read already, so the form costs no call of its own. */
export function RegisterPatchGroup({ baselines, onDone }: { baselines?: any[]; onDone: (o: Outcome) => void }) {
  const [baseline, setBaseline] = useState<SelectProps.Option | null>(null);
  const [group, setGroup] = useState("");
  const { busy, error, run: register } = useAction(async () => {
    await call("ssm", "RegisterPatchBaselineForPatchGroup", { BaselineId: baseline?.value, PatchGroup: group });
    onDone({ type: "success", text: `Registered patch group ${group} with ${baseline?.label}.` });
    setGroup("");
    setBaseline(null);
  });

  return (
    <SubmitForm onSubmit={register}>
      <SpaceBetween size="s">
        <SpaceBetween direction="horizontal" size="s" alignItems="end">
          <FormField label="Baseline">
            <Select
              selectedOption={baseline}
              options={(baselines ?? []).map(baselineOption)}
              statusType={baselines ? "finished" : "loading"}
              loadingText="Reading patch baselines"
              filteringType="auto"
              placeholder="Choose a baseline"
              onChange={({ detail }) => setBaseline(detail.selectedOption)}
            />
          </FormField>
          <FormField label="Patch group name">
            <Input value={group} placeholder="The nodes' Patch Group tag" onChange={({ detail }) => setGroup(detail.value)} />
          </FormField>
          <Button loading={busy} disabled={!baseline || !group}>
            Register patch group
          </Button>
        </SpaceBetween>
        {error && <Alert type="error">{error}</Alert>}
      </SpaceBetween>
    </SubmitForm>
  );
}

/** A patch group row's action: its baseline deregistered (the group's nodes fall back to their
 * OS's default baseline; nothing else is lost, so no confirmation). */
export function DeregisterPatchGroup({ mapping, onDone }: { mapping: any; onDone: (o: Outcome) => void }) {
  const group: string = mapping.PatchGroup;
  const id: string | undefined = mapping.BaselineIdentity?.BaselineId;
  return (
    <Button
      variant="inline-link"
      ariaLabel={`Deregister ${group} from ${mapping.BaselineIdentity?.BaselineName || id}`}
      onClick={() =>
        attempt(
          () => call("ssm", "DeregisterPatchBaselineForPatchGroup", { BaselineId: id, PatchGroup: group }),
          `Deregistered patch group ${group}.`,
          onDone,
        )
      }
    >
      Deregister
    </Button>
  );
}

/** Sends AWS-RunPatchBaseline to the nodes and opens the command's live page. */
async function runPatchBaseline(nodeIds: string[], operation: "Scan" | "Install", rebootOption?: string) {
  const parameters: Record<string, string[]> = { Operation: [operation] };
  if (rebootOption) parameters.RebootOption = [rebootOption];
  const sent = await call("ssm", "SendCommand", {
    DocumentName: "AWS-RunPatchBaseline",
    InstanceIds: nodeIds,
    Parameters: parameters,
    Comment: `${operation} from the Steward console`,
  });
  go(`/commands/${sent.Command.CommandId}`);
}

/** "Scan now" and "Install now" for the chosen nodes. A scan only reports; an install changes
 * the nodes, so it is confirmed first, with the choice of whether they may reboot. */
export function PatchNowButtons({ nodeIds }: { nodeIds: string[] }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [reboot, setReboot] = useState("RebootIfNeeded");
  const none = nodeIds.length === 0;

  const scan = async () => {
    setBusy(true);
    setError("");
    try {
      await runPatchBaseline(nodeIds, "Scan");
    } catch (e) {
      setError(why(e));
      setBusy(false);
    }
  };

  const install = async (): Promise<string | undefined> => {
    try {
      await runPatchBaseline(nodeIds, "Install", reboot);
      return undefined;
    } catch (e) {
      return why(e);
    }
  };

  const nodes = nodeIds.length === 1 ? nodeIds[0] : `${nodeIds.length} nodes`;
  return (
    <SpaceBetween size="s">
      <SpaceBetween direction="horizontal" size="xs" alignItems="center">
        <Button loading={busy} disabled={none} onClick={scan}>
          Scan now
        </Button>
        <Button disabled={none || busy} onClick={() => setConfirming(true)}>
          Install now
        </Button>
        <Box color="text-body-secondary">
          {none ? "Choose nodes in the table to scan or patch them." : `${nodes} chosen.`}
        </Box>
      </SpaceBetween>
      {error && <Alert type="error">{error}</Alert>}
      {confirming && (
        <ConfirmModal header="Install patches now" confirm="Install patches" onConfirm={install} onCancel={() => setConfirming(false)}>
          <Box>
            AWS-RunPatchBaseline will install, on {nodes}, the patches that each node's baseline approves and
            that are missing. Upgrading packages may restart the services that use them.
          </Box>
          <FormField label="Reboot">
            <RadioGroup
              value={reboot}
              onChange={({ detail }) => setReboot(detail.value)}
              items={[
                { value: "RebootIfNeeded", label: "Reboot if a patch needs it" },
                { value: "NoReboot", label: "Do not reboot", description: "Patches that need a reboot stay pending until the next one." },
              ]}
            />
          </FormField>
        </ConfirmModal>
      )}
    </SpaceBetween>
  );
}
