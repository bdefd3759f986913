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
  const [concurrency, setConcurrency] = useState("50");
  const [errors, setErrors] = useState("0");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const filters = [{ Key: "DocumentType", Values: ["Command"] }];
    callAll<any>("ssm", "ListDocuments", { Filters: filters, MaxResults: 50 }, "DocumentIdentifiers")
      .then((docs) => setDocuments(docs.map((d) => ({ label: d.Name, value: d.Name, description: d.Owner }))))
      .catch((e) => setError(why(e)));
  }, []);

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

  const run = async () => {
    setBusy(true);
    setError("");
    try {
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
      else input.Targets = [{ Key: `tag:${tagKey}`, Values: [tagValue] }];
      const sent = await call("ssm", "SendCommand", input);
      go(`/commands/${sent.Command.CommandId}`);
    } catch (e) {
      setError(why(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        run();
      }}
    >
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
                ]}
              />
              {how === "nodes" ? (
                <FormField label="Nodes">
                  <NodePicker selected={chosen} onChange={setChosen} onError={setError} />
                </FormField>
              ) : (
                <SpaceBetween direction="horizontal" size="s">
                  <FormField label="Tag key">
                    <Input value={tagKey} onChange={({ detail }) => setTagKey(detail.value)} />
                  </FormField>
                  <FormField label="Tag value">
                    <Input value={tagValue} onChange={({ detail }) => setTagValue(detail.value)} />
                  </FormField>
                </SpaceBetween>
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
    </form>
  );
}
