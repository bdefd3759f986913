// Form pieces several pages share: the node picker and the owner filter.
import { useEffect, useState } from "react";
import Multiselect, { MultiselectProps } from "@cloudscape-design/components/multiselect";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import { callAll, why } from "../api";

/** The managed nodes to choose from (id, with host name, platform and ping status). */
export function NodePicker({
  selected,
  onChange,
  onError,
}: {
  selected: readonly MultiselectProps.Option[];
  onChange: (chosen: readonly MultiselectProps.Option[]) => void;
  onError: (message: string) => void;
}) {
  const [nodes, setNodes] = useState<MultiselectProps.Option[]>([]);
  useEffect(() => {
    callAll<any>("ssm", "DescribeInstanceInformation", { MaxResults: 50 }, "InstanceInformationList")
      .then((list) =>
        setNodes(
          list.map((n) => ({
            label: n.InstanceId,
            value: n.InstanceId,
            description: [n.ComputerName, n.PlatformName, n.PingStatus].filter(Boolean).join(" · "),
          })),
        ),
      )
      .catch((e) => onError(why(e)));
  }, [onError]);
  return (
    <Multiselect
      selectedOptions={selected}
      options={nodes}
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
