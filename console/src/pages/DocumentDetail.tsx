import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { call, callAll, why } from "../api";
import { SubmitForm, useAction } from "./forms";
import { go } from "../route";
import Editor from "./Editor";

const TYPES = ["Command", "Automation", "Session", "Policy"].map((t) => ({ label: t, value: t }));
const FORMATS = ["YAML", "JSON"].map((f) => ({ label: f, value: f }));

/** A new document: name, type, format and content, checked by the server. */
export function NewDocument() {
  const [name, setName] = useState("");
  const [type, setType] = useState(TYPES[0]);
  const [format, setFormat] = useState(FORMATS[0]);
  const [content, setContent] = useState('schemaVersion: "2.2"\ndescription: ""\nmainSteps: []\n');
  const { busy, error, run: create } = useAction(async () => {
    await call("ssm", "CreateDocument", {
      Name: name,
      DocumentType: type.value,
      DocumentFormat: format.value,
      Content: content,
    });
    go(`/documents/${encodeURIComponent(name)}`);
  });

  return (
    <SubmitForm onSubmit={create}>
      <Form
        header={<Header variant="h1">Create a document</Header>}
        actions={
          <Button variant="primary" loading={busy} disabled={!name}>
            Create document
          </Button>
        }
      >
        <Container>
          <SpaceBetween size="m">
            <FormField label="Name">
              <Input value={name} onChange={({ detail }) => setName(detail.value)} />
            </FormField>
            <SpaceBetween direction="horizontal" size="s">
              <FormField label="Type">
                <Select selectedOption={type} options={TYPES} onChange={({ detail }) => setType(detail.selectedOption as any)} />
              </FormField>
              <FormField label="Format">
                <Select
                  selectedOption={format}
                  options={FORMATS}
                  onChange={({ detail }) => setFormat(detail.selectedOption as any)}
                />
              </FormField>
            </SpaceBetween>
            <Editor value={content} onChange={setContent} error={error} />
          </SpaceBetween>
        </Container>
      </Form>
    </SubmitForm>
  );
}

/** One document: its versions, content, a new version from an edit, and who it is shared with. */
export default function DocumentDetail({ name }: { name: string }) {
  const [doc, setDoc] = useState<any>(null);
  const [versions, setVersions] = useState<any[]>([]);
  const [version, setVersion] = useState<string | undefined>(undefined);
  const [content, setContent] = useState("");
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState("");
  const [saveError, setSaveError] = useState("");
  const [shared, setShared] = useState<string[] | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    call("ssm", "DescribeDocument", { Name: name })
      .then((r) => setDoc(r.Document))
      .catch((e) => setError(why(e)));
    callAll("ssm", "ListDocumentVersions", { Name: name, MaxResults: 50 }, "DocumentVersions")
      .then(setVersions)
      .catch(() => {});
    call("ssm", "DescribeDocumentPermission", { Name: name, PermissionType: "Share" })
      .then((r) => setShared(r.AccountIds ?? []))
      .catch(() => setShared(null));
  }, [name, reload]);
  useEffect(() => {
    call("ssm", "GetDocument", version ? { Name: name, DocumentVersion: version } : { Name: name })
      .then((r) => setContent(r.Content))
      .catch((e) => setError(why(e)));
  }, [name, version, reload]);

  const save = async () => {
    setSaveError("");
    try {
      const r = await call("ssm", "UpdateDocument", {
        Name: name,
        Content: content,
        DocumentFormat: doc?.DocumentFormat,
        DocumentVersion: "$LATEST",
      });
      setEditing(false);
      setVersion(r.DocumentDescription.DocumentVersion);
      setReload((n) => n + 1);
    } catch (e) {
      setSaveError(why(e));
    }
  };

  const options = versions.map((v) => ({
    label: `Version ${v.DocumentVersion}${v.IsDefaultVersion ? " (default)" : ""}`,
    value: v.DocumentVersion,
  }));
  const own = doc && doc.Owner !== "Amazon";
  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={doc ? `${doc.DocumentType} · ${doc.DocumentFormat} · schema ${doc.SchemaVersion}` : undefined}
        actions={
          own &&
          (editing ? (
            <SpaceBetween direction="horizontal" size="xs">
              <Button onClick={() => setEditing(false)}>Discard</Button>
              <Button variant="primary" onClick={save}>
                Save new version
              </Button>
            </SpaceBetween>
          ) : (
            <Button onClick={() => setEditing(true)}>Edit</Button>
          ))
        }
      >
        {name}
      </Header>
      {error && <Alert type="error">{error}</Alert>}
      {doc && (
        <Container>
          <SpaceBetween direction="horizontal" size="xl">
            <div>
              <Box variant="awsui-key-label">Default version</Box>
              {doc.DefaultVersion}
            </div>
            <div>
              <Box variant="awsui-key-label">Latest version</Box>
              {doc.LatestVersion}
            </div>
            <div>
              <Box variant="awsui-key-label">Owner</Box>
              {doc.Owner}
            </div>
            <div>
              <Box variant="awsui-key-label">Shared with</Box>
              {shared === null ? "-" : shared.length ? shared.join(", ") : "No other account"}
            </div>
          </SpaceBetween>
        </Container>
      )}
      <Container
        header={
          <Header
            variant="h2"
            actions={
              options.length > 0 && (
                <Select
                  selectedOption={options.find((o) => o.value === version) ?? null}
                  placeholder="Default version"
                  options={options}
                  onChange={({ detail }) => setVersion(detail.selectedOption.value)}
                />
              )
            }
          >
            Content
          </Header>
        }
      >
        <Editor value={content} onChange={setContent} readOnly={!editing} error={saveError} />
      </Container>
      {own && shared !== null && <Sharing name={name} shared={shared} onChanged={() => setReload((n) => n + 1)} />}
    </SpaceBetween>
  );
}

/** Who else may run the document: accounts added by id (or `all`, public) and removed, with
 * ModifyDocumentPermission as the CLI does; SSM's refusals (a document with secrets in its
 * defaults, a bad id) show as they come. */
function Sharing({ name, shared, onChanged }: { name: string; shared: string[]; onChanged: () => void }) {
  const [account, setAccount] = useState("");
  const modify = (change: Record<string, string[]>) =>
    call("ssm", "ModifyDocumentPermission", { Name: name, PermissionType: "Share", ...change }).then(onChanged);
  const share = useAction(async () => {
    await modify({ AccountIdsToAdd: [account.trim()] });
    setAccount("");
  });
  const [removing, setRemoving] = useState("");
  const stop = useAction(async (id: string) => {
    setRemoving(id);
    await modify({ AccountIdsToRemove: [id] });
  });
  return (
    <Container header={<Header variant="h2" description="Accounts that may see and run this document; all makes it public.">Sharing</Header>}>
      <SpaceBetween size="s">
        {shared.length === 0 && <Box color="text-body-secondary">Not shared with any other account.</Box>}
        {shared.map((id) => (
          <SpaceBetween key={id} direction="horizontal" size="s" alignItems="center">
            <Box>{id}</Box>
            <Button
              variant="inline-link"
              ariaLabel={`Stop sharing with ${id}`}
              loading={stop.busy && removing === id}
              onClick={() => stop.run(id)}
            >
              Stop sharing
            </Button>
          </SpaceBetween>
        ))}
        <SubmitForm onSubmit={share.run}>
          <SpaceBetween direction="horizontal" size="xs" alignItems="end">
            <FormField label="Account ID">
              <Input value={account} placeholder="123456789012 or all" onChange={({ detail }) => setAccount(detail.value)} />
            </FormField>
            <Button loading={share.busy} disabled={!account.trim()}>
              Share
            </Button>
          </SpaceBetween>
        </SubmitForm>
        {(share.error || stop.error) && <Alert type="error">{share.error || stop.error}</Alert>}
      </SpaceBetween>
    </Container>
  );
}
