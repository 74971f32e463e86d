/*
 * A second DMAR, shaped like a one-socket server's rather than written
 * against the decoder: three units in segment 0 (two listing root ports'
 * sub-hierarchies and an endpoint, the last INCLUDE_PCI_ALL with two I/O
 * APICs and an HPET), two overlapping RMRRs (a USB controller's and a
 * graphics device's shared buffer), an ATSR for all root ports, an RHSA
 * for each of two units and two ACPI namespace devices. Source for iasl's
 * data-table compiler (tests/tool/test_decode.py compiles it, decodes it
 * with vtdlab-decode and compares every field with iasl -d).
 */
[0004]                          Signature : "DMAR"
[0004]                       Table Length : 00000000
[0001]                           Revision : 01
[0001]                           Checksum : 00
[0006]                             Oem ID : "VTDLAB"
[0008]                       Oem Table ID : "3UNITS  "
[0004]                       Oem Revision : 00000002
[0004]                    Asl Compiler ID : "INTL"
[0004]              Asl Compiler Revision : 20200925

[0001]                 Host Address Width : 33
[0001]                              Flags : 05
[0010]                           Reserved : 00 00 00 00 00 00 00 00 00 00

[0002]                      Subtable Type : 0000 [Hardware Unit Definition]
[0002]                             Length : 0018
[0001]                              Flags : 00
[0001]                           Reserved : 00
[0002]                 PCI Segment Number : 0000
[0008]              Register Base Address : 00000000D37FC000

[0001]                  Device Scope Type : 02 [PCI Bridge Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 16
[0002]                           PCI Path : 01,00

[0002]                      Subtable Type : 0000 [Hardware Unit Definition]
[0002]                             Length : 0020
[0001]                              Flags : 00
[0001]                           Reserved : 00
[0002]                 PCI Segment Number : 0000
[0008]              Register Base Address : 00000000E0FFC000

[0001]                  Device Scope Type : 02 [PCI Bridge Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 30
[0002]                           PCI Path : 02,00

[0001]                  Device Scope Type : 01 [PCI Endpoint Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 6A
[0002]                           PCI Path : 01,00

[0002]                      Subtable Type : 0000 [Hardware Unit Definition]
[0002]                             Length : 0028
[0001]                              Flags : 01
[0001]                           Reserved : 00
[0002]                 PCI Segment Number : 0000
[0008]              Register Base Address : 00000000FED91000

[0001]                  Device Scope Type : 03 [IOAPIC Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 08
[0001]                     PCI Bus Number : 00
[0002]                           PCI Path : 1E,07

[0001]                  Device Scope Type : 03 [IOAPIC Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 09
[0001]                     PCI Bus Number : 16
[0002]                           PCI Path : 05,04

[0001]                  Device Scope Type : 04 [Message-capable HPET Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 00
[0002]                           PCI Path : 1F,00

[0002]                      Subtable Type : 0001 [Reserved Memory Region]
[0002]                             Length : 0020
[0002]                           Reserved : 0000
[0002]                 PCI Segment Number : 0000
[0008]                       Base Address : 000000006E2B0000
[0008]                End Address (limit) : 000000006E2CFFFF

[0001]                  Device Scope Type : 01 [PCI Endpoint Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 00
[0002]                           PCI Path : 14,00

[0002]                      Subtable Type : 0001 [Reserved Memory Region]
[0002]                             Length : 0028
[0002]                           Reserved : 0000
[0002]                 PCI Segment Number : 0000
[0008]                       Base Address : 000000006E2C0000
[0008]                End Address (limit) : 000000006E3FFFFF

[0001]                  Device Scope Type : 01 [PCI Endpoint Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 00
[0002]                           PCI Path : 02,00

[0001]                  Device Scope Type : 01 [PCI Endpoint Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 00
[0002]                           PCI Path : 14,00

[0002]                      Subtable Type : 0002 [Root Port ATS Capability]
[0002]                             Length : 0008
[0001]                              Flags : 01
[0001]                           Reserved : 00
[0002]                 PCI Segment Number : 0000

[0002]                      Subtable Type : 0003 [Remapping Hardware Static Affinity]
[0002]                             Length : 0014
[0004]                           Reserved : 00000000
[0008]                       Base Address : 00000000D37FC000
[0004]                   Proximity Domain : 00000000

[0002]                      Subtable Type : 0003 [Remapping Hardware Static Affinity]
[0002]                             Length : 0014
[0004]                           Reserved : 00000000
[0008]                       Base Address : 00000000E0FFC000
[0004]                   Proximity Domain : 00000000

[0002]                      Subtable Type : 0004 [ACPI Namespace Device Declaration]
[0002]                             Length : 0017
[0003]                           Reserved : 000000
[0001]                 Device Number : 01
[0000]                        Device Name : "\_SB.PC00.UA00"

[0002]                      Subtable Type : 0004 [ACPI Namespace Device Declaration]
[0002]                             Length : 0017
[0003]                           Reserved : 000000
[0001]                 Device Number : 02
[0000]                        Device Name : "\_SB.PC00.UA01"
