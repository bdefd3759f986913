import { useEffect, useState } from "react";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import { MultiselectProps } from "@cloudscape-design/components/multiselect";
import RadioGroup from "@cloudscape-design/components/radio-group";
import Select, { SelectProps } from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Textarea from "@cloudscape-design/components/textarea";
import { call, callAll, why } from "../api";
import { SubmitForm, useAction } from "./forms";
import { go } from "../route";
import { NodePicker } from "./pickers";

interface DocParameter {
  Name: string;
  Type: string;
  Description?: string;
  DefaultValue?: string;
}

/** A form field for one typed document parameter: lists one item per line. */
function ParameterField({
  p,
  value,
  onChange,
}: {
  p: DocParameter;
  value: string;
  onChange: (v: string) => void;
}) {
  const label = `${p.Name} (${p.Type})`;
  return (
    <FormField label={label} description={p.Description}>
      {p.Type === "StringList" || p.Type === "MapList" ? (
        <Textarea value={value} rows={4} onChange={({ detail }) => onChange(detail.value)} ariaLabel={p.Name} />
      ) : (
        <Input value={value} onChange={({ detail }) => onChange(detail.value)} ariaLabel={p.Name} />
      )}
    </FormField>
  );
}

export default function RunCommand() {
  const [documents, setDocuments] = useState<SelectProps.Option[]>([]);
  const [document, setDocument] = useState<SelectProps.Option | null>(null);
  const [params, setParams] = useState<DocParameter[]>([]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [chosen, setChosen] = useState<readonly MultiselectProps.Option[]>([]);
  const [how, setHow] = useState("nodes");
  const [tagKey, setTagKey] = useState("");
  const [tagValue, setTagValue] = useState("");
  const [groups, setGroups] = useState<SelectProps.Option[] | null>(null);
  const [group, setGroup] = useState<SelectProps.Option | null>(null);
  const [concurrency, setConcurrency] = useState("50");
  const [errors, setErrors] = useState("0");

  useEffect(() => {
    const filters = [{ Key: "DocumentType", Values: ["Command"] }];
    callAll<any>("ssm", "ListDocuments", { Filters: filters, MaxResults: 50 }, "DocumentIdentifiers")
      .then((docs) => setDocuments(docs.map((d) => ({ label: d.Name, value: d.Name, description: d.Owner }))))
      .catch((e) => setError(why(e)));
  }, []);

  // The account's resource groups, read the first time targets by group are asked for.
  useEffect(() => {
    if (how !== "group" || groups !== null) return;
    callAll<any>("resource-groups", "ListGroups", { MaxResults: 50 }, "GroupIdentifiers")
      .then((list) => setGroups(list.map((g) => ({ label: g.GroupName, value: g.GroupName }))))
      .catch((e) => {
        setGroups([]);
        setError(why(e));
      });
  }, [how, groups]);

  const pick = async (option: SelectProps.Option) => {
    setDocument(option);
    setError("");
    try {
      const d = await call("ssm", "DescribeDocument", { Name: option.value });
      const list: DocParameter[] = d.Document.Parameters ?? [];
      setParams(list);
      setValues(Object.fromEntries(list.map((p) => [p.Name, p.DefaultValue ?? ""])));
    } catch (e) {
      setError(why(e));
    }
  };

  /** Targets as SendCommand takes them: a tag's values (comma-separated), or a resource
   * group's nodes (resolved by the server when it sends). */
  const targets = () => {
    if (how === "group") return [{ Key: "resource-groups:Name", Values: [group?.value ?? ""] }];
    const values = tagValue.split(",").map((v) => v.trim()).filter((v) => v !== "");
    return [{ Key: `tag:${tagKey.trim()}`, Values: values }];
  };

  const { busy, error, setError, run } = useAction(async () => {
    const parameters: Record<string, string[]> = {};
    for (const p of params) {
      const v = values[p.Name] ?? "";
      if (v === "" && p.DefaultValue === undefined) continue;
      parameters[p.Name] = p.Type === "StringList" ? v.split("\n").filter((l) => l !== "") : [v];
    }
    const input: any = {
      DocumentName: document?.value,
      Parameters: parameters,
      MaxConcurrency: concurrency,
      MaxErrors: errors,
      Comment: "Run from the Steward console",
    };
    if (how === "nodes") input.InstanceIds = chosen.map((o) => o.value);
    else input.Targets = targets();
    const sent = await call("ssm", "SendCommand", input);
    go(`/commands/${sent.Command.CommandId}`);
  });

  return (
    <SubmitForm onSubmit={run}>
      <Form
        header={<Header variant="h1">Run a command</Header>}
        errorText={error || undefined}
        actions={
          <Button variant="primary" loading={busy} disabled={!document}>
            Run
          </Button>
        }
      >
        <SpaceBetween size="l">
          <Container header={<Header variant="h2">Command document</Header>}>
            <FormField label="Document">
              <Select
                selectedOption={document}
                options={documents}
                filteringType="auto"
                placeholder="Choose a document"
                onChange={({ detail }) => pick(detail.selectedOption)}
              />
            </FormField>
          </Container>
          {params.length > 0 && (
            <Container header={<Header variant="h2">Command parameters</Header>}>
              <SpaceBetween size="m">
                {params.map((p) => (
                  <ParameterField
                    key={p.Name}
                    p={p}
                    value={values[p.Name] ?? ""}
                    onChange={(v) => setValues({ ...values, [p.Name]: v })}
                  />
                ))}
              </SpaceBetween>
            </Container>
          )}
          <Container header={<Header variant="h2">Targets</Header>}>
            <SpaceBetween size="m">
              <RadioGroup
                value={how}
                onChange={({ detail }) => setHow(detail.value)}
                items={[
                  { value: "nodes", label: "Choose nodes" },
                  { value: "tag", label: "Specify a tag" },
                  { value: "group", label: "Choose a resource group" },
                ]}
              />
              {how === "nodes" && (
                <FormField label="Nodes">
                  <NodePicker selected={chosen} onChange={setChosen} onError={setError} />
                </FormField>
              )}
              {how === "tag" && (
                <SpaceBetween direction="horizontal" size="s">
                  <FormField label="Tag key">
                    <Input value={tagKey} onChange={({ detail }) => setTagKey(detail.value)} ariaLabel="Tag key" />
                  </FormField>
                  <FormField label="Tag values" description="One or more, separated by commas.">
                    <Input value={tagValue} onChange={({ detail }) => setTagValue(detail.value)} ariaLabel="Tag values" />
                  </FormField>
                </SpaceBetween>
              )}
              {how === "group" && (
                <FormField label="Resource group" description="Its managed nodes when the command is sent.">
                  <Select
                    selectedOption={group}
                    options={groups ?? []}
                    statusType={groups === null ? "loading" : "finished"}
                    filteringType="auto"
                    placeholder="Choose a resource group"
                    empty="No resource groups"
                    onChange={({ detail }) => setGroup(detail.selectedOption)}
                  />
                </FormField>
              )}
            </SpaceBetween>
          </Container>
          <Container header={<Header variant="h2">Rate control</Header>}>
            <SpaceBetween direction="horizontal" size="s">
              <FormField label="Concurrency" description="Nodes at once: a number or a percentage.">
                <Input value={concurrency} onChange={({ detail }) => setConcurrency(detail.value)} />
              </FormField>
              <FormField label="Error threshold" description="Errors before it stops sending.">
                <Input value={errors} onChange={({ detail }) => setErrors(detail.value)} />
              </FormField>
            </SpaceBetween>
          </Container>
        </SpaceBetween>
      </Form>
    </SubmitForm>
  );
}
