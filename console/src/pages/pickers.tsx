// Form pieces several pages share: the node picker and the owner filter.
import { useState } from "react";
import Multiselect, { MultiselectProps } from "@cloudscape-design/components/multiselect";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import { callAll, why } from "../api";

/** The managed nodes to choose from (id, with host name, platform and ping status), read when
 * the list is first opened: a page that may target nodes some other way (tags, a group) does
 * not page through a large fleet just by opening. */
export function NodePicker({
  selected,
  onChange,
  onError,
}: {
  selected: readonly MultiselectProps.Option[];
  onChange: (chosen: readonly MultiselectProps.Option[]) => void;
  onError: (message: string) => void;
}) {
  const [nodes, setNodes] = useState<MultiselectProps.Option[] | null>(null);
  const [status, setStatus] = useState<"pending" | "loading" | "finished" | "error">("pending");
  const load = () => {
    if (status !== "pending") return;
    setStatus("loading");
    callAll<any>("ssm", "DescribeInstanceInformation", { MaxResults: 50 }, "InstanceInformationList")
      .then((list) => {
        setNodes(
          list.map((n) => ({
            label: n.InstanceId,
            value: n.InstanceId,
            description: [n.ComputerName, n.PlatformName, n.PingStatus].filter(Boolean).join(" · "),
          })),
        );
        setStatus("finished");
      })
      .catch((e) => {
        setStatus("error");
        onError(why(e));
      });
  };
  return (
    <Multiselect
      selectedOptions={selected}
      options={nodes ?? []}
      statusType={status}
      loadingText="Reading the fleet"
      errorText="The nodes cannot be listed."
      onLoadItems={load}
      filteringType="auto"
      placeholder="Choose nodes"
      onChange={({ detail }) => onChange(detail.selectedOptions)}
    />
  );
}

/** Whose documents a list shows: the account's, those shared with it, and (optionally) the
 * built-in ones. */
export function OwnerFilter({
  owner,
  onChange,
  builtIn = false,
}: {
  owner: string;
  onChange: (owner: string) => void;
  builtIn?: boolean;
}) {
  const options = [
    { id: "Self", text: "Owned by me" },
    { id: "Private", text: "Shared with me" },
  ];
  if (builtIn) options.push({ id: "Amazon", text: "Built in" });
  return (
    <SegmentedControl
      selectedId={owner}
      label="Owner"
      onChange={({ detail }) => onChange(detail.selectedId)}
      options={options}
    />
  );
}
