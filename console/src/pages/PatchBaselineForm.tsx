// Create a patch baseline (#/patch/baselines/new): what SSM's console asks for — name,
// operating system, one approval rule, patches approved and rejected by name, and the
// compliance level of what the baseline approves.
import { useState } from "react";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Multiselect from "@cloudscape-design/components/multiselect";
import Select, { SelectProps } from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Textarea from "@cloudscape-design/components/textarea";
import { call, callAll } from "../api";
import { useSection } from "./sections";
import { SubmitForm, useAction } from "./forms";
import { go } from "../route";

/** SSM's OperatingSystem values, as people name them (the value is what the API and the
 * baselines table show). */
const OPERATING_SYSTEMS: SelectProps.Option[] = [
  ["UBUNTU", "Ubuntu"],
  ["DEBIAN", "Debian"],
  ["RASPBIAN", "Raspberry Pi OS"],
  ["AMAZON_LINUX_2023", "Amazon Linux 2023"],
  ["AMAZON_LINUX_2022", "Amazon Linux 2022"],
  ["AMAZON_LINUX_2", "Amazon Linux 2"],
  ["AMAZON_LINUX", "Amazon Linux"],
  ["REDHAT_ENTERPRISE_LINUX", "Red Hat Enterprise Linux"],
  ["ROCKY_LINUX", "Rocky Linux"],
  ["ALMA_LINUX", "AlmaLinux"],
  ["ORACLE_LINUX", "Oracle Linux"],
  ["CENTOS", "CentOS"],
  ["SUSE", "SUSE Linux Enterprise Server"],
  ["MACOS", "macOS"],
  ["WINDOWS", "Windows Server"],
].map(([value, label]) => ({ value, label, description: value }));

/** SSM's PatchComplianceLevel values, the most severe first. */
const COMPLIANCE_LEVELS: SelectProps.Option[] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED"].map(
  (value) => ({ value, label: value }),
);

/** One filter of the approval rule: a PatchFilter key, whether SSM accepts a closed set of
 * values for it on the chosen OS (DescribePatchProperties lists them; otherwise they are typed
 * comma-separated), and what a new rule starts with. */
interface RuleFilter {
  key: string;
  label: string;
  closed: boolean;
  initial: string[];
}

/** Debian, Ubuntu and Raspberry Pi OS patch with apt, whose packages have no classification
 * or severity but a priority and a section; their repositories carry no release dates either,
 * so a rule approves an update as soon as it is available (ApproveAfterDays 0). */
const APT = ["UBUNTU", "DEBIAN", "RASPBIAN"];

/** The rule's filters for `os`: two keys the server accepts for it, as SSM's console offers
 * them, starting with the security-minded values SSM's predefined baselines approve. */
function ruleFiltersFor(os: string): RuleFilter[] {
  if (APT.includes(os)) {
    return [
      { key: "PRIORITY", label: "Priority", closed: true, initial: ["Required", "Important"] },
      { key: "SECTION", label: "Section", closed: false, initial: [] },
    ];
  }
  if (os === "WINDOWS") {
    return [
      {
        key: "CLASSIFICATION",
        label: "Classification",
        closed: true,
        initial: ["CriticalUpdates", "SecurityUpdates"],
      },
      { key: "MSRC_SEVERITY", label: "Severity", closed: true, initial: ["Critical", "Important"] },
    ];
  }
  if (os === "MACOS") return [{ key: "CLASSIFICATION", label: "Classification", closed: false, initial: [] }];
  return [
    { key: "CLASSIFICATION", label: "Classification", closed: true, initial: ["Security"] },
    { key: "SEVERITY", label: "Severity", closed: true, initial: ["Critical", "Important"] },
  ];
}

/** What the form holds; lists as typed (one a line, or comma-separated in a rule filter). */
interface Draft {
  name: string;
  description: string;
  os: string;
  filters: Record<string, string>;
  approveAfterDays: string;
  complianceLevel: string;
  approved: string;
  rejected: string;
}

/** A new draft's rule for `os`: its filters' initial values, and no wait where there are no
 * release dates to wait from (SSM's own default elsewhere is 7 days). */
function ruleDefaults(os: string): Pick<Draft, "filters" | "approveAfterDays"> {
  return {
    filters: Object.fromEntries(ruleFiltersFor(os).map((f) => [f.key, f.initial.join(",")])),
    approveAfterDays: APT.includes(os) ? "0" : "7",
  };
}

const split = (text: string, separator: string | RegExp) =>
  text
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** The CreatePatchBaseline input of a draft. A filter left empty does not narrow the rule; with
 * every filter empty there is no rule, and only the patches approved by name are. Empty
 * optional fields are left out (SSM refuses an empty Description). The name goes as typed,
 * so a missing or malformed one gets SSM's own answer. */
function createRequest(d: Draft): Record<string, unknown> {
  const input: Record<string, unknown> = { Name: d.name.trim(), OperatingSystem: d.os };
  if (d.description.trim()) input.Description = d.description.trim();
  const filters = ruleFiltersFor(d.os)
    .map((f) => ({ Key: f.key, Values: split(d.filters[f.key] ?? "", ",") }))
    .filter((f) => f.Values.length > 0);
  if (filters.length > 0) {
    const rule: Record<string, unknown> = { PatchFilterGroup: { PatchFilters: filters }, ComplianceLevel: d.complianceLevel };
    if (d.approveAfterDays.trim() !== "") rule.ApproveAfterDays = Number(d.approveAfterDays);
    input.ApprovalRules = { PatchRules: [rule] };
  }
  const approved = split(d.approved, "\n");
  if (approved.length > 0) {
    input.ApprovedPatches = approved;
    input.ApprovedPatchesComplianceLevel = d.complianceLevel;
  }
  const rejected = split(d.rejected, "\n");
  if (rejected.length > 0) input.RejectedPatches = rejected;
  return input;
}

/** One rule filter: a multiselect of the values SSM accepts (as the server lists them), or a
 * comma-separated input. */
function RuleFilterField({
  os,
  filter,
  value,
  onChange,
}: {
  os: string;
  filter: RuleFilter;
  value: string;
  onChange: (v: string) => void;
}) {
  const chosen = split(value, ",");
  const values = useSection<string[]>(
    () =>
      filter.closed
        ? callAll<any>("ssm", "DescribePatchProperties", { OperatingSystem: os, Property: filter.key, MaxResults: 50 }, "Properties")
            .then((list) => list.map((p) => p.Name as string))
        : Promise.resolve([]),
    [os, filter.key],
  );
  return (
    <FormField label={filter.label} description={`${filter.key}; leave empty for any.`} errorText={values.error}>
      {filter.closed ? (
        <Multiselect
          selectedOptions={chosen.map((v) => ({ value: v, label: v }))}
          options={(values.data ?? []).map((v) => ({ value: v, label: v }))}
          statusType={values.data ? "finished" : "loading"}
          placeholder={`Any ${filter.label.toLowerCase()}`}
          onChange={({ detail }) => onChange(detail.selectedOptions.map((o) => o.value).join(","))}
        />
      ) : (
        <Input value={value} placeholder="Comma-separated, e.g. admin, libs" onChange={({ detail }) => onChange(detail.value)} />
      )}
    </FormField>
  );
}

export default function NewPatchBaseline() {
  const [draft, setDraft] = useState<Draft>(() => ({
    name: "",
    description: "",
    os: "UBUNTU",
    ...ruleDefaults("UBUNTU"),
    complianceLevel: "UNSPECIFIED",
    approved: "",
    rejected: "",
  }));
  const set = (change: Partial<Draft>) => setDraft((d) => ({ ...d, ...change }));
  const option = (options: SelectProps.Option[], value: string) => options.find((o) => o.value === value) ?? null;

  const { busy, error, run: create } = useAction(async () => {
    await call("ssm", "CreatePatchBaseline", createRequest(draft));
    go("/patch");
  });

  return (
    <SubmitForm onSubmit={create}>
      <Form
        header={
          <Header variant="h1" description="Which patches the nodes of one operating system get, when a patch group or the default points at it.">
            Create patch baseline
          </Header>
        }
        errorText={error || undefined}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button formAction="none" variant="link" onClick={() => go("/patch")}>
              Cancel
            </Button>
            <Button variant="primary" loading={busy}>
              Create patch baseline
            </Button>
          </SpaceBetween>
        }
      >
        <SpaceBetween size="l">
          <Container header={<Header variant="h2">Baseline details</Header>}>
            <SpaceBetween size="m">
              <FormField label="Name" constraintText="3 to 128 letters, digits, _ - and .">
                <Input value={draft.name} onChange={({ detail }) => set({ name: detail.value })} />
              </FormField>
              <FormField label="Description" description="Optional.">
                <Input value={draft.description} onChange={({ detail }) => set({ description: detail.value })} />
              </FormField>
              <FormField label="Operating system">
                <Select
                  selectedOption={option(OPERATING_SYSTEMS, draft.os)}
                  options={OPERATING_SYSTEMS}
                  // Another OS has other filter keys and values: its rule starts afresh.
                  onChange={({ detail }) => {
                    const os = detail.selectedOption.value ?? "UBUNTU";
                    set({ os, ...ruleDefaults(os) });
                  }}
                />
              </FormField>
            </SpaceBetween>
          </Container>
          <Container
            header={
              <Header variant="h2" description="Approves the patches matching every filter given.">
                Approval rule
              </Header>
            }
          >
            <SpaceBetween size="m">
              <SpaceBetween direction="horizontal" size="l">
                {ruleFiltersFor(draft.os).map((f) => (
                  <RuleFilterField
                    key={`${draft.os}/${f.key}`}
                    os={draft.os}
                    filter={f}
                    value={draft.filters[f.key] ?? ""}
                    onChange={(v) => set({ filters: { ...draft.filters, [f.key]: v } })}
                  />
                ))}
              </SpaceBetween>
              <FormField
                label="Approve after days"
                description={
                  APT.includes(draft.os)
                    ? "0: apt repositories carry no release dates, so updates are approved when available."
                    : "Days after a patch's release before it is approved (0 to 360)."
                }
              >
                <Input type="number" value={draft.approveAfterDays} onChange={({ detail }) => set({ approveAfterDays: detail.value })} />
              </FormField>
              <FormField label="Compliance level" description="Reported for a node missing a patch this baseline approves.">
                <Select
                  selectedOption={option(COMPLIANCE_LEVELS, draft.complianceLevel)}
                  options={COMPLIANCE_LEVELS}
                  onChange={({ detail }) => set({ complianceLevel: detail.selectedOption.value ?? "UNSPECIFIED" })}
                />
              </FormField>
            </SpaceBetween>
          </Container>
          <Container header={<Header variant="h2">Patch exceptions</Header>}>
            <SpaceBetween size="m">
              <FormField label="Approved patches" description="One package a line; approved whatever the rule says.">
                <Textarea value={draft.approved} rows={3} onChange={({ detail }) => set({ approved: detail.value })} />
              </FormField>
              <FormField label="Rejected patches" description="One package a line; not installed even when the rule approves it, unless another package needs it.">
                <Textarea value={draft.rejected} rows={3} onChange={({ detail }) => set({ rejected: detail.value })} />
              </FormField>
            </SpaceBetween>
          </Container>
        </SpaceBetween>
      </Form>
    </SubmitForm>
  );
}
